"""The pack's hooks (entry point ``multai.bark``): the registration, the estimate, load and
unload functions of its modules marked as hook implementations, and the task dispatch.
Nothing here imports torch."""

from __future__ import annotations

import threading
from collections.abc import Callable

from multai_bark import BACKEND_NAME
from multai_bark.estimate import estimate
from multai_bark.handle import BarkHandle, load, unload
from multai_bark.options import BarkOptions
from multai_core.plugin_api import (
    Backend,
    InferResult,
    InvalidRequest,
    ModelSpec,
    SpeechTask,
    Task,
    VoiceCatalog,
    VoiceInfo,
    VoicesTask,
    hookimpl,
    path_check,
)

TASKS = frozenset({"speech"})


@hookimpl
def multai_register_backends(register: Callable[[Backend], None]) -> None:
    register(
        Backend(
            name=BACKEND_NAME,
            tasks=TASKS,
            options_type=BarkOptions,
            description="Text to speech with Bark (transformers, safetensors): /v1/audio/speech",
            voices=voices,
            check=path_check("folder", "a Bark model folder (config.json, safetensors)"),
        )
    )


def voices(spec: ModelSpec) -> list[VoiceInfo]:
    """The speaker presets the folder lists, read from its JSON library (no torch, no load)."""
    from multai_bark.voices import VoiceLibrary

    return VoiceLibrary.for_model(spec).catalog()


multai_estimate_memory = hookimpl(estimate)
multai_load = hookimpl(load)
multai_unload = hookimpl(unload)


@hookimpl
def multai_infer(handle: BarkHandle, task: Task, cancel: threading.Event) -> InferResult:
    match task.payload:
        case SpeechTask() as speech:
            from multai_bark.synthesis import speak

            return speak(handle, speech, cancel, task.id)
        case VoicesTask():
            return VoiceCatalog(voices=handle.voices.catalog())
        case other:
            raise InvalidRequest(
                f"The bark backend serves speech only, not {type(other).__name__} tasks."
            )
