"""Decoding what the server sent, with the libraries a client would use."""

from __future__ import annotations

import io

import av
import numpy as np
import soundfile as sf

SOUNDFILE_FORMATS = ("wav", "flac", "opus")


def decode(data: bytes, response_format: str) -> tuple[int, np.ndarray]:
    """(sample rate, mono float samples). soundfile reads wav, flac and Ogg Opus (at the rate
    the Opus header declares); PyAV reads mp3 and aac; pcm is raw 16-bit little-endian."""
    if response_format == "pcm":
        return 24_000, np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    if response_format in SOUNDFILE_FORMATS:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        return int(rate), samples[:, 0]
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
        return int(stream.codec_context.sample_rate), np.concatenate(frames).astype(np.float32)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)
