"""How long an uploaded audio file plays, from its container header, decoding nothing.

PyAV (FFmpeg) reads it where installed (the Whisper plugin brings it, and decodes with it);
without PyAV the standard library's ``wave`` reads WAV. None where neither knows: the caller
then assumes the longest audio the server decodes."""

from __future__ import annotations

import io
import wave
from typing import Any


def audio_seconds(data: bytes) -> float | None:
    """The declared duration in seconds, or None when the header does not say."""
    try:
        import av
    except ImportError:
        return _wave_seconds(data)
    return _av_seconds(av, data)


def _av_seconds(av: Any, data: bytes) -> float | None:
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError):  # not audio: the decoder will say so
        return None
    with container:
        streams = container.streams.audio
        if not streams:
            return None
        stream = streams[0]
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        if container.duration:  # in microseconds (AV_TIME_BASE)
            return float(container.duration) / 1_000_000
    return None


def _wave_seconds(data: bytes) -> float | None:
    try:
        with wave.open(io.BytesIO(data)) as wav:
            rate = wav.getframerate()
            return wav.getnframes() / rate if rate > 0 else None
    except (wave.Error, EOFError, ValueError):
        return None
