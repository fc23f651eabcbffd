"""Playing audio faster or slower at the same pitch: FFmpeg's ``atempo`` filter (WSOLA) through
PyAV. Nothing here is Piper's: it could serve any speech pack."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

ATEMPO_MIN = 0.5
"""atempo's lowest factor per stage: slower tempos chain stages."""
TOLERANCE = 0.01


def stretch(samples: np.ndarray, sample_rate: int, tempo: float) -> np.ndarray:
    """``samples`` played ``tempo`` times as fast, same pitch."""
    if abs(tempo - 1.0) < TOLERANCE or samples.size == 0:
        return samples
    graph = av.filter.Graph()
    source = graph.add_abuffer(
        format="flt", sample_rate=sample_rate, layout="mono", time_base=Fraction(1, sample_rate)
    )
    factors: list[float] = []
    while tempo < ATEMPO_MIN:
        factors.append(ATEMPO_MIN)
        tempo /= ATEMPO_MIN
    node = source
    for factor in [*factors, tempo]:
        stage = graph.add("atempo", f"{factor:.6f}")
        node.link_to(stage)
        node = stage
    sink = graph.add("abuffersink")
    node.link_to(sink)
    graph.configure()
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
    )
    frame.sample_rate = sample_rate
    frame.time_base = Fraction(1, sample_rate)
    frame.pts = 0
    source.push(frame)
    source.push(None)
    out: list[np.ndarray] = []
    while True:
        try:
            pulled = sink.pull()
        except (BlockingIOError, EOFError):
            break
        assert isinstance(pulled, av.AudioFrame)
        out.append(pulled.to_ndarray().reshape(-1).astype(np.float32, copy=False))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
