"""The hook implementations (entry point ``multai.bark``). Thin: each hook checks that the spec
or handle is this backend's and hands over to a module. Nothing here imports torch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from multai_bark import BACKEND_NAME
from multai_bark.handle import BarkHandle
from multai_bark.options import BarkOptions
from multai_core.errors import InvalidRequest
from multai_core.hookspecs import hookimpl
from multai_core.protocol.speech import SpeechRequest, VoicesQuery
from multai_core.results_bark import VoiceCatalog
from multai_core.types import Backend, DeviceSnapshot, MemoryEstimate, ModelSpec, Placement, Task

TASKS = frozenset({"speech"})


@hookimpl
def multai_register_backends(register: Callable[[Backend], Any]) -> None:
    register(
        Backend(
            name=BACKEND_NAME,
            tasks=TASKS,
            options_type=BarkOptions,
            description="Text to speech with Bark (transformers, safetensors): /v1/audio/speech",
        )
    )


@hookimpl
def multai_estimate_memory(
    spec: ModelSpec,
    devices: DeviceSnapshot,  # noqa: ARG001 - the estimate does not depend on free memory
) -> MemoryEstimate | None:
    if spec.backend != BACKEND_NAME:
        return None
    from multai_bark.estimate import estimate

    return estimate(spec)


@hookimpl
def multai_load(spec: ModelSpec, placement: Placement) -> BarkHandle | None:
    if spec.backend != BACKEND_NAME:
        return None
    from multai_bark.handle import load

    return load(spec, placement)


@hookimpl
def multai_unload(handle: Any) -> None:
    if isinstance(handle, BarkHandle):
        handle.close()


@hookimpl
def multai_infer(handle: Any, task: Task, cancel: threading.Event) -> Any:
    if not isinstance(handle, BarkHandle):
        return None
    if isinstance(task.payload, VoicesQuery):
        return VoiceCatalog(voices=handle.voices.catalog())
    if task.kind == "speech" and isinstance(task.payload, SpeechRequest):
        from multai_bark.synthesis import speak

        return speak(handle, task.payload, cancel, task.id)
    raise InvalidRequest(f"The bark backend serves speech only, not {task.kind!r} tasks.")
