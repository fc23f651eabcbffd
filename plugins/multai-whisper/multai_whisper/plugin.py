"""The hook implementations (entry point ``multai.whisper``). Thin: each hook checks that the
spec or handle is this backend's and hands over to a module. Nothing here imports
faster_whisper, ctranslate2 or numpy."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from multai_core.errors import InvalidRequest
from multai_core.hookspecs import hookimpl
from multai_core.types import Backend, MemoryEstimate, ModelSpec, Placement, Task
from multai_whisper import BACKEND_NAME
from multai_whisper.handle import WhisperHandle
from multai_whisper.options import WhisperOptions

TASKS = frozenset({"transcription", "translation"})


@hookimpl
def multai_register_backends(register: Callable[[Backend], Any]) -> None:
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
def multai_estimate_memory(spec: ModelSpec) -> MemoryEstimate | None:
    # the estimate does not depend on free memory, so ``devices`` is not taken
    if spec.backend != BACKEND_NAME:
        return None
    from multai_whisper.estimate import estimate

    return estimate(spec)


@hookimpl
def multai_load(spec: ModelSpec, placement: Placement) -> WhisperHandle | None:
    if spec.backend != BACKEND_NAME:
        return None
    from multai_whisper.handle import load

    return load(spec, placement)


@hookimpl
def multai_unload(handle: Any) -> None:
    if isinstance(handle, WhisperHandle):
        handle.close()


@hookimpl
def multai_infer(handle: Any, task: Task, cancel: threading.Event) -> Any:
    if not isinstance(handle, WhisperHandle):
        return None
    from multai_core.results_whisper import AudioTranscriptionTask

    if task.kind not in TASKS or not isinstance(task.payload, AudioTranscriptionTask):
        raise InvalidRequest(f"the whisper backend does not serve {task.kind!r} tasks")
    from multai_whisper.transcribe import run

    return run(handle, task.payload, cancel, task.id)
