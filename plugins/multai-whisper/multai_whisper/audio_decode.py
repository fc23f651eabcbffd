"""Uploaded audio -> 16 kHz mono float32 samples, in memory (PyAV reads from a BytesIO, so the
upload never touches the disk). Any container and codec FFmpeg knows: wav, mp3, flac, ogg/opus,
m4a/aac, webm... Decoding stops as soon as the audio passes the server's duration limit, so a
small, highly compressed file cannot expand into gigabytes. Samples go through 16-bit PCM as in
faster-whisper's own decode_audio, so a file transcribes exactly as faster-whisper would."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from multai_core.plugin_api import InvalidRequest

if TYPE_CHECKING:
    import av
    import numpy as np
    import numpy.typing as npt

SAMPLE_RATE = 16000
NOT_AUDIO = (
    "The file is not audio, or not in a format this server can decode "
    "(send wav, mp3, flac, ogg/opus, m4a or webm)."
)


def _too_long(max_seconds: float) -> InvalidRequest:
    return InvalidRequest(
        f"The audio is longer than this server accepts ({max_seconds:g} s).", param="file"
    )


def decode(data: bytes, *, max_seconds: float) -> npt.NDArray[np.float32]:
    import av
    import numpy as np

    max_samples = int(max_seconds * SAMPLE_RATE)
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise InvalidRequest(NOT_AUDIO, param="file") from exc
    samples = bytearray()
    with container:
        if not container.streams.audio:
            raise InvalidRequest(
                "The file has no audio track (send wav, mp3, flac, ogg/opus, m4a or webm).",
                param="file",
            )
        stream = container.streams.audio[0]
        declared = stream.duration * stream.time_base if stream.duration and stream.time_base else 0
        if float(declared) > max_seconds + 1:  # the header says so: refuse before decoding
            raise _too_long(max_seconds)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        try:
            for frame in _frames(container, stream):
                for out in resampler.resample(frame):
                    samples += out.to_ndarray().tobytes()
                if len(samples) > 2 * max_samples:
                    raise _too_long(max_seconds)
            for out in resampler.resample(None):
                samples += out.to_ndarray().tobytes()
        except (av.FFmpegError, ValueError) as exc:
            raise InvalidRequest(NOT_AUDIO, param="file") from exc
    pcm = np.frombuffer(samples, dtype=np.int16)
    if pcm.size == 0:
        raise InvalidRequest("The file holds no audio samples.", param="file")
    if pcm.size > max_samples:
        raise _too_long(max_seconds)
    audio = pcm.astype(np.float32)
    audio /= 32768.0
    return audio


def _frames(container: av.container.InputContainer, stream: av.AudioStream) -> Iterator[Any]:
    """Decoded frames, skipping packets that fail to decode (a damaged frame in a long call
    should not lose the call), as faster-whisper's own decoder does."""
    import av

    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.InvalidDataError:
            continue
