"""One speech request: resolve the voice, split the text, then per piece generate, join,
stretch to the asked speed and encode, yielding the encoded bytes as each piece is done.
Cancellation is checked before every piece (and stops a generation at its next token)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import structlog

from multai_bark.encoding import AudioEncoder
from multai_bark.handle import BarkHandle
from multai_bark.joining import join_next
from multai_bark.sentences import split_text
from multai_bark.tempo import TempoStretcher
from multai_core.plugin_api import SpeechAudio, SpeechChunk, SpeechDone, SpeechStart, SpeechTask

log = structlog.get_logger(__name__)


def speak(
    handle: BarkHandle, task: SpeechTask, cancel: threading.Event, request_id: str = ""
) -> Iterator[SpeechChunk]:
    preset = handle.voices.resolve(task.voice)
    pieces = split_text(task.text, handle.options.max_segment_chars)
    rate = handle.sample_rate
    yield SpeechStart(segments=len(pieces), sample_rate=rate, voice=preset)

    encoder = AudioEncoder(task.response_format, rate)
    stretcher = TempoStretcher(rate, task.speed)
    samples_out = input_tokens = semantic_tokens = 0
    try:
        for index, text in enumerate(pieces):
            if cancel.is_set():
                return
            started = time.perf_counter()
            generated = handle.generate(text, preset, cancel)
            if generated is None:
                return
            input_tokens += generated.input_tokens
            semantic_tokens += generated.semantic_tokens
            audio = stretcher.push(
                join_next(
                    generated.audio,
                    rate,
                    first=index == 0,
                    pause_s=handle.options.sentence_pause_s,
                )
            )
            samples_out += audio.size
            log.debug(
                "speech_segment",
                request_id=request_id,
                segment=index,
                chars=len(text),
                audio_s=round(generated.audio.size / rate, 3),
                seconds=round(time.perf_counter() - started, 3),
                attempts=generated.attempts,
            )
            if not generated.semantic_tokens:
                log.warning(
                    "speech_segment_silent",
                    request_id=request_id,
                    segment=index,
                    attempts=generated.attempts,
                    reason="Bark ended this generation before its first token",
                )
            yield SpeechAudio(data=encoder.encode(audio))
        tail = stretcher.flush()
        samples_out += tail.size
        yield SpeechAudio(data=encoder.encode(tail) + encoder.finish())
        yield SpeechDone(
            segments=len(pieces),
            audio_seconds=samples_out / rate,
            input_tokens=input_tokens,
            output_tokens=semantic_tokens,
        )
    finally:
        encoder.close()
