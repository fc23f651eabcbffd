"""The hook implementations (entry point ``multai.llava``). Thin: each hook checks that the
spec or handle is this backend's and hands over to a module. Nothing here imports torch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from multai_core.hookspecs import hookimpl
from multai_core.types import Backend, MemoryEstimate, ModelSpec, Placement, Task
from multai_llava import BACKEND_NAME
from multai_llava.handle import LlavaHandle
from multai_llava.options import LlavaOptions

TASKS = frozenset({"chat", "vision"})


@hookimpl
def multai_register_backends(register: Callable[[Backend], Any]) -> None:
    register(
        Backend(
            name=BACKEND_NAME,
            tasks=TASKS,
            options_type=LlavaOptions,
            description="Vision chat: LLaVA-1.5 and other transformers image-text-to-text models",
        )
    )


@hookimpl
def multai_estimate_memory(spec: ModelSpec) -> MemoryEstimate | None:
    if spec.backend != BACKEND_NAME:
        return None
    from multai_llava.estimate import estimate

    return estimate(spec)


@hookimpl
def multai_load(spec: ModelSpec, placement: Placement) -> LlavaHandle | None:
    if spec.backend != BACKEND_NAME:
        return None
    from multai_llava.handle import load

    return load(spec, placement)


@hookimpl
def multai_unload(handle: Any) -> None:
    if isinstance(handle, LlavaHandle):
        handle.close()


@hookimpl
def multai_infer(handle: Any, task: Task, cancel: threading.Event) -> Any:
    if not isinstance(handle, LlavaHandle):
        return None
    if task.kind in ("chat", "vision"):
        from multai_llava.chat import run_chat

        return run_chat(handle, task, cancel)
    from multai_core.errors import InvalidRequest

    raise InvalidRequest(f"The llava backend does not serve {task.kind!r} tasks.")
