"""Joining generations without clicks: each one loses its DC offset and fades in and out over
a few milliseconds (raised cosine), so every boundary passes through silence, and a short pause
separates sentences. Each piece is finished on its own, so it can be sent at once."""

from __future__ import annotations

import numpy as np

FADE_S = 0.010


def shape_segment(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 in [-1, 1], zero mean, with its ends faded to silence."""
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    if samples.size == 0:
        return samples
    samples = np.nan_to_num(samples - np.float32(samples.mean()), nan=0.0, posinf=0.0, neginf=0.0)
    fade = min(int(FADE_S * sample_rate), samples.size // 2)
    if fade > 0:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade, dtype=np.float32))).astype(
            np.float32
        )
        samples[:fade] *= ramp
        samples[-fade:] *= ramp[::-1]
    clipped: np.ndarray = np.clip(samples, -1.0, 1.0)
    return clipped


def silence(seconds: float, sample_rate: int) -> np.ndarray:
    return np.zeros(round(seconds * sample_rate), dtype=np.float32)


def join_next(audio: np.ndarray, sample_rate: int, *, first: bool, pause_s: float) -> np.ndarray:
    """One generation shaped for the stream; every one but the first starts with the pause."""
    shaped = shape_segment(audio, sample_rate)
    if first or pause_s <= 0:
        return shaped
    return np.concatenate([silence(pause_s, sample_rate), shaped])
