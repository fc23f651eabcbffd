"""The hook implementations (entry point ``multai.piper``). Thin: each hook hands over to a
module; the core calls them only for this backend's models and handles. Nothing here imports
piper, onnxruntime, PyAV or numpy."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from multai_core.plugin_api import (
    Backend,
    InferResult,
    InvalidRequest,
    ModelSpec,
    Placement,
    SpeechTask,
    Task,
    VoiceCatalog,
    VoicesTask,
    hookimpl,
    path_check,
)
from multai_piper import BACKEND_NAME
from multai_piper.estimate import estimate
from multai_piper.options import PiperOptions
from multai_piper.voices import describe

if TYPE_CHECKING:
    from multai_piper.handle import PiperHandle  # imports numpy

TASKS = frozenset({"speech"})


@hookimpl
def multai_register_backends(register: Callable[[Backend], None]) -> None:
    from multai_piper.default_model import default_models

    register(
        Backend(
            name=BACKEND_NAME,
            tasks=TASKS,
            options_type=PiperOptions,
            default_models=tuple(default_models()),
            description="Text to speech with Piper voices (ONNX): /v1/audio/speech",
            voices=describe,
            check=path_check(
                "file_or_folder", "a Piper voice (.onnx, its .onnx.json beside it) or its folder"
            ),
        )
    )


multai_estimate_memory = hookimpl(estimate)


@hookimpl
def multai_load(spec: ModelSpec, placement: Placement) -> PiperHandle:
    from multai_piper.handle import load  # numpy and onnxruntime: only when a model loads

    return load(spec, placement)


@hookimpl
def multai_unload(handle: PiperHandle) -> None:
    handle.close()


@hookimpl
def multai_infer(handle: PiperHandle, task: Task, cancel: threading.Event) -> InferResult:
    match task.payload:
        case VoicesTask():
            return VoiceCatalog(voices=handle.voices.catalog())
        case SpeechTask() as speech:
            from multai_piper.synthesis import speak

            return speak(handle, speech, cancel, task.id)
        case other:
            raise InvalidRequest(
                f"The piper backend serves speech only, not {type(other).__name__} tasks."
            )
