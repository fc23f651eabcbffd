"""The pack's hooks (entry point ``multai.sdxl``): the registration, the estimate, load and
unload functions of its modules marked as hook implementations, and the task dispatch.
Nothing here imports torch."""

from __future__ import annotations

import threading
from collections.abc import Callable

from multai_core.plugin_api import (
    Backend,
    ImageEditTask,
    ImageGenerationTask,
    InferResult,
    InvalidRequest,
    Task,
    hookimpl,
    path_check,
)
from multai_sdxl import BACKEND_NAME
from multai_sdxl.handle import SdxlHandle, load, unload
from multai_sdxl.model_estimate import estimate_spec
from multai_sdxl.options import SdxlOptions

TASKS = frozenset({"image"})


@hookimpl
def multai_register_backends(register: Callable[[Backend], None]) -> None:
    register(
        Backend(
            name=BACKEND_NAME,
            tasks=TASKS,
            options_type=SdxlOptions,
            check=path_check("folder", "a diffusers pipeline folder (model_index.json)"),
            description="Text-to-image and image editing with diffusers pipelines (SDXL-Turbo)",
        )
    )


multai_estimate_memory = hookimpl(estimate_spec)
multai_load = hookimpl(load)
multai_unload = hookimpl(unload)


@hookimpl
def multai_infer(handle: SdxlHandle, task: Task, cancel: threading.Event) -> InferResult:
    match task.payload:
        case ImageGenerationTask():
            from multai_sdxl.generate import generate

            return generate(handle, task.payload, cancel)
        case ImageEditTask():
            from multai_sdxl.edit import edit

            return edit(handle, task.payload, cancel)
        case _:
            raise InvalidRequest(
                f"the sdxl backend does not serve {type(task.payload).__name__} tasks"
            )
