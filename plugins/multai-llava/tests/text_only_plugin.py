"""A text-only chat backend for the routing tests: it answers with the last message's text.
It has no "vision" task, so the core must refuse images for it before anything is queued."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from multai_core.plugin_api import (
    Backend,
    MemoryEstimate,
    ModelSpec,
    Placement,
    Task,
    TextDelta,
    Usage,
    hookimpl,
)


class TextOnlyHandle:
    pass


class TextOnlyPlugin:
    def __init__(self) -> None:
        self.tasks_seen: list[Task] = []

    @hookimpl
    def multai_register_backends(self, register: Callable[[Backend], None]) -> None:
        register(Backend(name="text-only", tasks=frozenset({"chat"})))

    @hookimpl
    def multai_estimate_memory(self, spec: ModelSpec) -> MemoryEstimate:
        return MemoryEstimate(cpu_bytes=1 << 20)

    @hookimpl
    def multai_load(self, spec: ModelSpec, placement: Placement) -> TextOnlyHandle:
        return TextOnlyHandle()

    @hookimpl
    def multai_infer(
        self, handle: TextOnlyHandle, task: Task, cancel: threading.Event
    ) -> Iterator[TextDelta | Usage]:
        self.tasks_seen.append(task)
        return self._answer(task.payload.messages[-1].text())

    def _answer(self, text: str) -> Iterator[TextDelta | Usage]:
        yield TextDelta(text=text)
        yield TextDelta(finish_reason="stop")
        yield Usage(prompt_tokens=1, completion_tokens=1)
