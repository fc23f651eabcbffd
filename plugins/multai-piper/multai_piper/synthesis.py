"""One speech request: resolve the voice, split the text into sentences (espeak-ng) and long
sentences into pieces, then speak, encode and yield each piece as it is done. The speed is
Piper's length scale, corrected by a time stretch (:mod:`multai_piper.tempo`). Cancellation
is checked before every piece: one inference is a single ONNX run, which cannot stop
half-way."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import structlog

from multai_core.plugin_api import (
    InvalidRequest,
    SpeechAudio,
    SpeechChunk,
    SpeechDone,
    SpeechStart,
    SpeechTask,
)
from multai_piper.encoding import open_encoder
from multai_piper.handle import PiperHandle
from multai_piper.pieces import piece_limit, split_phonemes

log = structlog.get_logger(__name__)


def plan(handle: PiperHandle, text: str, length_scale: float) -> list[tuple[bool, list[str]]]:
    """The pieces to speak, each with whether it starts a new sentence."""
    limit = piece_limit(handle.options.max_piece_phonemes, length_scale)
    return [
        (index == 0, piece)
        for sentence in handle.phonemize(text)
        for index, piece in enumerate(split_phonemes(sentence, limit))
    ]


def speak(
    handle: PiperHandle, task: SpeechTask, cancel: threading.Event, request_id: str = ""
) -> Iterator[SpeechChunk]:
    speaker = handle.voices.resolve(task.voice)
    length_scale = handle.length_scale(task.speed)
    pieces = plan(handle, task.text, length_scale)
    if not pieces:
        raise InvalidRequest(
            "`input` has nothing to speak: no words Piper can pronounce.", param="input"
        )
    rate = handle.sample_rate
    yield SpeechStart(segments=len(pieces), sample_rate=rate, voice=speaker.id)

    pause = np.zeros(round(handle.options.sentence_pause_s / task.speed * rate), np.float32)
    encoder = open_encoder(task.response_format, rate)
    samples = phoneme_ids = 0
    try:
        for index, (new_sentence, phonemes) in enumerate(pieces):
            if cancel.is_set():
                return
            started = time.perf_counter()
            spoken = handle.speak(phonemes, speaker.speaker_id, task.speed)
            audio = spoken.audio
            if new_sentence and index > 0 and pause.size:
                audio = np.concatenate([pause, audio])
            samples += audio.size
            phoneme_ids += spoken.phoneme_ids
            log.debug(
                "speech_piece",
                request_id=request_id,
                piece=index,
                phonemes=len(phonemes),
                audio_s=round(spoken.audio.size / rate, 3),
                seconds=round(time.perf_counter() - started, 3),
            )
            yield SpeechAudio(data=encoder.encode(audio))
        yield SpeechAudio(data=encoder.finish())
        yield SpeechDone(
            segments=len(pieces),
            audio_seconds=samples / rate,
            input_tokens=phoneme_ids,
            output_tokens=0,
        )
    finally:
        encoder.close()
