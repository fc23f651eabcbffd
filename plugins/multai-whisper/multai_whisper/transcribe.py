"""One transcription or translation: decode the upload, run faster-whisper, and yield the
language and duration first, then each segment as soon as it is decoded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import structlog

from multai_core.plugin_api import (
    InvalidRequest,
    TranscribedSegment,
    TranscribedWord,
    TranscriptionInfo,
    TranscriptionTask,
)
from multai_whisper.audio_decode import SAMPLE_RATE, decode
from multai_whisper.handle import WhisperHandle
from multai_whisper.options import temperatures

log = structlog.get_logger(__name__)
Chunk = TranscriptionInfo | TranscribedSegment


def check(handle: WhisperHandle, request: TranscriptionTask) -> None:
    """What this model cannot do, refused before any decoding."""
    language = request.language
    if request.task == "translate" and not handle.multilingual:
        raise InvalidRequest(
            f"The model '{handle.spec.name}' is English-only; it cannot translate. Use a "
            "multilingual Whisper model.",
            param="model",
        )
    if language is not None and language not in handle.supported_languages:
        detail = (
            "it is English-only"
            if not handle.multilingual
            else "send an ISO-639-1 code such as 'en' or 'de'"
        )
        raise InvalidRequest(
            f"The language '{language}' is not one the model '{handle.spec.name}' knows; "
            f"{detail}, or leave language out to detect it.",
            param="language",
        )


def run(
    handle: WhisperHandle, request: TranscriptionTask, cancel: threading.Event, task_id: str
) -> Iterator[Chunk]:
    check(handle, request)
    return _chunks(handle, request, cancel, task_id)


def _chunks(
    handle: WhisperHandle, request: TranscriptionTask, cancel: threading.Event, task_id: str
) -> Iterator[Chunk]:
    started = time.perf_counter()
    audio = decode(request.audio, max_seconds=request.max_audio_seconds)
    log.info(
        "audio_decoded",
        request_id=task_id,
        upload_bytes=len(request.audio),
        audio_seconds=round(audio.size / SAMPLE_RATE, 3),
        seconds=round(time.perf_counter() - started, 4),
    )
    if cancel.is_set():
        return
    options = handle.options
    segments, info = handle.model.transcribe(
        audio,
        language=request.language,
        task=request.task,
        beam_size=options.beam_size,
        best_of=options.best_of,
        temperature=temperatures(options, request.temperature),
        initial_prompt=request.prompt or None,
        word_timestamps=request.word_timestamps,
        vad_filter=options.vad_filter,
        condition_on_previous_text=options.condition_on_previous_text,
    )
    yield TranscriptionInfo(
        language=info.language,
        duration=float(info.duration),
        language_probability=float(info.language_probability),
    )
    try:
        pending, index = iter(segments), 0
        # cancel is checked before asking for a segment: the next one may cost a whole window
        while not cancel.is_set():
            segment = next(pending, None)
            if segment is None:
                return
            yield to_result(index, segment)
            index += 1
    finally:
        close = getattr(segments, "close", None)
        if close is not None:
            close()


def to_result(index: int, segment: Any) -> TranscribedSegment:
    words = None
    if segment.words is not None:
        words = [
            TranscribedWord(
                word=w.word,
                start=round(float(w.start), 3),
                end=round(float(w.end), 3),
                probability=float(w.probability),
            )
            for w in segment.words
        ]
    return TranscribedSegment(
        id=index,
        seek=int(segment.seek),
        start=round(float(segment.start), 3),
        end=round(float(segment.end), 3),
        text=segment.text,
        tokens=[int(t) for t in segment.tokens],
        temperature=float(segment.temperature or 0.0),
        avg_logprob=float(segment.avg_logprob),
        compression_ratio=float(segment.compression_ratio),
        no_speech_prob=float(segment.no_speech_prob),
        words=words,
    )
