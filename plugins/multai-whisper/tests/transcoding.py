"""The committed WAV fixtures re-encoded in memory with PyAV: the containers and codecs a
caller is likely to send, plus longer clips made by joining fixtures."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

RATE = 16000
# name -> (container format, codec, sample rate, channel layout, file name)
FORMATS = {
    "mp3": ("mp3", "libmp3lame", 16000, "mono", "speech.mp3"),
    "ogg": ("ogg", "libopus", 48000, "mono", "speech.ogg"),
    "flac": ("flac", "flac", 16000, "mono", "speech.flac"),
    "m4a": ("ipod", "aac", 16000, "mono", "speech.m4a"),
    "webm": ("webm", "libopus", 48000, "stereo", "speech.webm"),
    "wav": ("wav", "pcm_s16le", 16000, "mono", "speech.wav"),
    "wav-48k-stereo-float": ("wav", "pcm_f32le", 48000, "stereo", "studio.wav"),
}


def samples(path: Path) -> npt.NDArray[np.float32]:
    """A fixture's 16 kHz mono samples as float32."""
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    return (np.concatenate(chunks).astype(np.float32) / 32768.0).astype(np.float32)


def encode(audio: npt.NDArray[np.float32], fmt: str) -> bytes:
    """16 kHz mono float samples as a file of ``fmt`` (a FORMATS key), in memory."""
    container_format, codec, rate, layout, _ = FORMATS[fmt]
    out = io.BytesIO()
    with av.open(out, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        target = stream.codec_context
        resampler = av.AudioResampler(format=target.format, layout=layout, rate=rate)
        frame_size = target.frame_size or 1024
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
        source = av.AudioResampler(format="s16", layout="mono", rate=RATE, frame_size=frame_size)
        frames = []
        for start in range(0, pcm.size, RATE):
            frame = av.AudioFrame.from_ndarray(
                pcm[None, start : start + RATE], format="s16", layout="mono"
            )
            frame.sample_rate = RATE
            frames.extend(source.resample(frame))
        frames.extend(source.resample(None))
        for frame in frames:
            for converted in resampler.resample(frame):
                container.mux(stream.encode(converted))
        for converted in resampler.resample(None):
            container.mux(stream.encode(converted))
        container.mux(stream.encode(None))
    return out.getvalue()


def joined(paths: list[Path], seconds: float, gap: float = 0.5) -> npt.NDArray[np.float32]:
    """Fixtures one after another (with ``gap`` s of silence between), repeated to
    ``seconds``."""
    silence = np.zeros(int(gap * RATE), dtype=np.float32)
    parts: list[npt.NDArray[np.float32]] = []
    total = 0
    while total < seconds * RATE:
        for path in paths:
            parts += [samples(path), silence]
            total += parts[-2].size + silence.size
    return np.concatenate(parts)[: int(seconds * RATE)]
