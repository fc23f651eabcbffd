"""The hook implementations (entry point ``multai.whisper``). Thin: each hook hands over to a
module; the core calls them only for this backend's models and handles. Nothing here imports
faster_whisper, ctranslate2 or numpy."""

from __future__ import annotations

import threading
from collections.abc import Callable

from multai_core.plugin_api import (
    Backend,
    InferResult,
    InvalidRequest,
    MemoryEstimate,
    ModelSpec,
    Placement,
    Task,
    TranscriptionTask,
    hookimpl,
)
from multai_whisper import BACKEND_NAME
from multai_whisper.handle import WhisperHandle
from multai_whisper.options import WhisperOptions

TASKS = frozenset({"transcription", "translation"})


@hookimpl
def multai_register_backends(register: Callable[[Backend], None]) -> None:
    from multai_whisper.default_model import default_models

    register(
        Backend(
            name=BACKEND_NAME,
            tasks=TASKS,
            options_type=WhisperOptions,
            default_models=tuple(default_models()),
            description="Whisper speech to text through faster-whisper (CTranslate2)",
        )
    )


@hookimpl
def multai_estimate_memory(spec: ModelSpec) -> MemoryEstimate:
    # the estimate does not depend on free memory, so ``devices`` is not taken
    from multai_whisper.estimate import estimate

    return estimate(spec)


@hookimpl
def multai_load(spec: ModelSpec, placement: Placement) -> WhisperHandle:
    from multai_whisper.handle import load

    return load(spec, placement)


@hookimpl
def multai_unload(handle: WhisperHandle) -> None:
    handle.close()


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
