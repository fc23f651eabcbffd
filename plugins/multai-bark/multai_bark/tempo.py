"""Speed without a change of pitch: FFmpeg's ``atempo`` filter (WSOLA) through PyAV, the same
library that encodes the audio. One filter graph runs over the whole stream, so there are no
seams between generations. atempo takes 0.5-100 per stage: slower speeds chain two stages."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

MIN_STAGE = 0.5


def tempo_stages(speed: float) -> list[float]:
    stages: list[float] = []
    while speed < MIN_STAGE:
        stages.append(MIN_STAGE)
        speed /= MIN_STAGE
    stages.append(speed)
    return stages


class TempoStretcher:
    """push() mono float32 samples, get back what the filter has ready; flush() at the end."""

    def __init__(self, sample_rate: int, speed: float) -> None:
        self.sample_rate = sample_rate
        self.speed = speed
        self._pts = 0
        self._graph: av.filter.Graph | None = None
        if abs(speed - 1.0) < 1e-6:
            return
        graph = av.filter.Graph()
        source = graph.add_abuffer(
            format="flt", sample_rate=sample_rate, layout="mono", time_base=Fraction(1, sample_rate)
        )
        previous = source
        for stage in tempo_stages(speed):
            node = graph.add("atempo", f"{stage:.6f}")
            previous.link_to(node)
            previous = node
        sink = graph.add("abuffersink")
        previous.link_to(sink)
        graph.configure()
        self._graph, self._source, self._sink = graph, source, sink

    def push(self, samples: np.ndarray) -> np.ndarray:
        if self._graph is None or samples.size == 0:
            return samples
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32)[None, :], format="flt", layout="mono"
        )
        frame.sample_rate = self.sample_rate
        frame.time_base = Fraction(1, self.sample_rate)
        frame.pts = self._pts
        self._pts += samples.size
        self._source.push(frame)
        return self._drain()

    def flush(self) -> np.ndarray:
        if self._graph is None:
            return np.zeros(0, dtype=np.float32)
        self._source.push(None)
        return self._drain()

    def _drain(self) -> np.ndarray:
        out: list[np.ndarray] = []
        while True:
            try:
                frame = self._sink.pull()
            except (BlockingIOError, EOFError):
                break
            assert isinstance(frame, av.AudioFrame)
            out.append(frame.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
