"""A text-only chat backend for the routing tests: it answers with the last message's text.
It has no "vision" task, so the core must refuse images for it before anything is queued."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from multai_core.hookspecs import hookimpl
from multai_core.results import TextDelta, Usage
from multai_core.types import Backend, MemoryEstimate, ModelSpec, Placement, Task


class TextOnlyHandle:
    pass


class TextOnlyPlugin:
    def __init__(self) -> None:
        self.tasks_seen: list[Task] = []

    @hookimpl
    def multai_register_backends(self, register: Any) -> None:
        register(Backend(name="text-only", tasks=frozenset({"chat"})))

    @hookimpl
    def multai_estimate_memory(self, spec: ModelSpec) -> MemoryEstimate | None:
        return MemoryEstimate(cpu_bytes=1 << 20) if spec.backend == "text-only" else None

    @hookimpl
    def multai_load(self, spec: ModelSpec, placement: Placement) -> TextOnlyHandle | None:
        return TextOnlyHandle() if spec.backend == "text-only" else None

    @hookimpl
    def multai_infer(self, handle: Any, task: Task, cancel: threading.Event) -> Any:
        if not isinstance(handle, TextOnlyHandle):
            return None
        self.tasks_seen.append(task)
        return self._answer(task.payload.messages[-1].text())

    def _answer(self, text: str) -> Iterator[Any]:
        yield TextDelta(text=text)
        yield TextDelta(finish_reason="stop")
        yield Usage(prompt_tokens=1, completion_tokens=1)
