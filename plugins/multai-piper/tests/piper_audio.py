"""Decoding what the pack or the server sent, as a client would (PyAV; pcm is raw s16le)."""

from __future__ import annotations

import io

import av
import numpy as np

VOICE_RATE = 22_050
"""The joe voice's rate: pcm comes at it; Ogg Opus decodes at 48 kHz."""


def decode(data: bytes, response_format: str) -> tuple[int, np.ndarray]:
    """(sample rate, mono float32 samples)."""
    if response_format == "pcm":
        return VOICE_RATE, np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
        rate = int(stream.codec_context.sample_rate)
    return rate, np.concatenate(frames).astype(np.float32)


def seconds(data: bytes, response_format: str) -> float:
    rate, samples = decode(data, response_format)
    return samples.size / rate


def voiced_seconds(data: bytes, response_format: str, threshold: float = 0.02) -> float:
    """From the first to the last sample above ``threshold``: speech without edge silence."""
    rate, samples = decode(data, response_format)
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return 0.0 if loud.size == 0 else (loud[-1] - loud[0]) / rate
