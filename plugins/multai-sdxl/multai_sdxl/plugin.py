"""The hook implementations (entry point ``multai.sdxl``). Thin: each hook hands over to a
module; the core calls them only for this backend's models and handles. Nothing here imports
torch."""

from __future__ import annotations

import threading
from collections.abc import Callable

from multai_core.plugin_api import (
    Backend,
    DeviceSnapshot,
    ImageEditTask,
    ImageGenerationTask,
    InferResult,
    InvalidRequest,
    MemoryEstimate,
    ModelSpec,
    Placement,
    Task,
    hookimpl,
)
from multai_sdxl import BACKEND_NAME
from multai_sdxl.handle import SdxlHandle
from multai_sdxl.options import SdxlOptions

TASKS = frozenset({"image"})


@hookimpl
def multai_register_backends(register: Callable[[Backend], None]) -> None:
    register(
        Backend(
            name=BACKEND_NAME,
            tasks=TASKS,
            options_type=SdxlOptions,
            description="Text-to-image and image editing with diffusers pipelines (SDXL-Turbo)",
        )
    )


@hookimpl
def multai_estimate_memory(spec: ModelSpec, devices: DeviceSnapshot) -> MemoryEstimate:
    from multai_sdxl.model_estimate import estimate_spec

    return estimate_spec(spec, devices)


@hookimpl
def multai_load(spec: ModelSpec, placement: Placement) -> SdxlHandle:
    from multai_sdxl.handle import load

    return load(spec, placement)


@hookimpl
def multai_unload(handle: SdxlHandle) -> None:
    handle.close()


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
