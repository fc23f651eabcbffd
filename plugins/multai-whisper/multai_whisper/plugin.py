"""The pack's hooks (entry point ``multai.whisper``): the registration, the estimate, load and
unload functions of its modules marked as hook implementations, and the task dispatch.
Nothing here imports faster_whisper, ctranslate2 or numpy."""

from __future__ import annotations

import threading
from collections.abc import Callable

from multai_core.plugin_api import (
    Backend,
    InferResult,
    InvalidRequest,
    ModelSpec,
    Task,
    TranscriptionTask,
    hookimpl,
    path_check,
)
from multai_whisper import BACKEND_NAME
from multai_whisper.estimate import estimate
from multai_whisper.handle import WhisperHandle, load, unload
from multai_whisper.options import WhisperOptions

TASKS = frozenset({"transcription", "translation"})
_MODEL_FOLDER = path_check("folder", "a CTranslate2 Whisper model folder (model.bin)")


def check(spec: ModelSpec) -> str | None:
    """A packaged model needs no path: it is assembled there (or in the cache) on first load."""
    return None if spec.options.get("packaged_model") else _MODEL_FOLDER(spec)


@hookimpl
def multai_register_backends(register: Callable[[Backend], None]) -> None:
    from multai_whisper.default_model import default_models

    register(
        Backend(
            name=BACKEND_NAME,
            tasks=TASKS,
            options_type=WhisperOptions,
            check=check,
            default_models=tuple(default_models()),
            description="Whisper speech to text through faster-whisper (CTranslate2)",
        )
    )


multai_estimate_memory = hookimpl(estimate)
multai_load = hookimpl(load)
multai_unload = hookimpl(unload)


@hookimpl
def multai_infer(handle: WhisperHandle, task: Task, cancel: threading.Event) -> InferResult:
    match task.payload:
        case TranscriptionTask() as transcription:
            from multai_whisper.transcribe import run

            return run(handle, transcription, cancel, task.id)
        case other:
            raise InvalidRequest(
                f"The whisper backend serves transcription and translation only, not "
                f"{type(other).__name__} tasks."
            )
