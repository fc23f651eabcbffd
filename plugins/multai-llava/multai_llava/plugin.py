"""The hook implementations (entry point ``multai.llava``). Thin: each hook hands over to a
module; the core calls them only for this backend's models and handles. Nothing here imports
torch."""

from __future__ import annotations

import threading
from collections.abc import Callable

from multai_core.plugin_api import (
    Backend,
    ChatTask,
    InferResult,
    InvalidRequest,
    MemoryEstimate,
    ModelSpec,
    Placement,
    Task,
    hookimpl,
)
from multai_llava import BACKEND_NAME
from multai_llava.handle import LlavaHandle
from multai_llava.options import LlavaOptions

TASKS = frozenset({"chat", "vision"})


@hookimpl
def multai_register_backends(register: Callable[[Backend], None]) -> None:
    register(
        Backend(
            name=BACKEND_NAME,
            tasks=TASKS,
            options_type=LlavaOptions,
            description="Vision chat: LLaVA-1.5 and other transformers image-text-to-text models",
        )
    )


@hookimpl
def multai_estimate_memory(spec: ModelSpec) -> MemoryEstimate:
    from multai_llava.estimate import estimate

    return estimate(spec)


@hookimpl
def multai_load(spec: ModelSpec, placement: Placement) -> LlavaHandle:
    from multai_llava.handle import load

    return load(spec, placement)


@hookimpl
def multai_unload(handle: LlavaHandle) -> None:
    handle.close()


@hookimpl
def multai_infer(handle: LlavaHandle, task: Task, cancel: threading.Event) -> InferResult:
    match task.payload:
        case ChatTask() as chat:
            from multai_llava.chat import run_chat

            return run_chat(handle, chat, cancel)
    raise InvalidRequest(f"The llava backend does not serve {task.kind!r} tasks.")
