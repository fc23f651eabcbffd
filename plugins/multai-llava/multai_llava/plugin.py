"""The pack's hooks (entry point ``multai.llava``): the registration, the estimate, load and
unload functions of its modules marked as hook implementations, and the task dispatch.
Nothing here imports torch."""

from __future__ import annotations

import threading
from collections.abc import Callable

from multai_core.plugin_api import (
    Backend,
    ChatTask,
    InferResult,
    InvalidRequest,
    Task,
    hookimpl,
    path_check,
)
from multai_llava import BACKEND_NAME
from multai_llava.estimate import estimate
from multai_llava.handle import LlavaHandle, load, unload
from multai_llava.options import LlavaOptions

TASKS = frozenset({"chat", "vision"})


@hookimpl
def multai_register_backends(register: Callable[[Backend], None]) -> None:
    register(
        Backend(
            name=BACKEND_NAME,
            tasks=TASKS,
            options_type=LlavaOptions,
            check=path_check("folder", "a transformers model folder (config.json, safetensors)"),
            description="Vision chat: LLaVA-1.5 and other transformers image-text-to-text models",
        )
    )


multai_estimate_memory = hookimpl(estimate)
multai_load = hookimpl(load)
multai_unload = hookimpl(unload)


@hookimpl
def multai_infer(handle: LlavaHandle, task: Task, cancel: threading.Event) -> InferResult:
    match task.payload:
        case ChatTask() as chat:
            from multai_llava.chat import run_chat

            return run_chat(handle, chat, cancel)
    raise InvalidRequest(f"The llava backend does not serve {task.kind!r} tasks.")
