"""Encoding mono float32 audio into the response formats, piece by piece, with PyAV (FFmpeg).

mp3, opus (Ogg), aac (ADTS) and wav are written to a sink that cannot seek, so every piece can
be sent as soon as it is encoded: the mp3 has no Xing length tag and the wav header says
0xFFFFFFFF for its sizes (as OpenAI's streamed wav does; decoders read to the end). flac is
written whole at the end instead: its STREAMINFO (length, MD5) is only right once the encoder
can seek back, and common decoders (libsndfile) refuse a flac of unknown length. pcm is the
raw samples as 16-bit little-endian integers.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np

OPUS_PAGE_US = 100_000
"""Ogg page length: short pages let opus leave the muxer as it is made."""


@dataclass(frozen=True)
class Container:
    format: str
    codec: str
    bit_rate: int | None = None
    streamed: bool = True
    options: dict[str, str] = field(default_factory=dict)


CONTAINERS = {
    "mp3": Container("mp3", "libmp3lame", bit_rate=64_000),
    "opus": Container(
        "ogg", "libopus", bit_rate=32_000, options={"page_duration": str(OPUS_PAGE_US)}
    ),
    "aac": Container("adts", "aac", bit_rate=64_000),
    "flac": Container("flac", "flac", streamed=False),
    "wav": Container("wav", "pcm_s16le"),
}


class _Sink:
    """A write-only file for the muxer: what it wrote since the last take()."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


def to_pcm16(samples: np.ndarray) -> bytes:
    """As FFmpeg converts float to s16 (scale by 2**15, round, clip), so pcm and wav agree."""
    scaled = np.rint(np.asarray(samples, dtype=np.float32) * np.float32(32768.0))
    data: bytes = np.clip(scaled, -32768, 32767).astype("<i2").tobytes()
    return data


class AudioEncoder:
    """encode() each piece of samples and send what it returns; finish() once at the end."""

    def __init__(self, response_format: str, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.raw = response_format == "pcm"
        self._pts = 0
        if self.raw:
            return
        spec = CONTAINERS[response_format]
        self._sink: _Sink | io.BytesIO = _Sink() if spec.streamed else io.BytesIO()
        self._container = av.open(self._sink, "w", format=spec.format, options=spec.options)
        stream = self._container.add_stream(spec.codec, rate=sample_rate, layout="mono")
        assert isinstance(stream, av.audio.stream.AudioStream)
        self._stream = stream
        if spec.bit_rate:
            self._stream.bit_rate = spec.bit_rate
        self._closed = False

    def encode(self, samples: np.ndarray) -> bytes:
        if samples.size == 0:
            return self._take()
        if self.raw:
            return to_pcm16(samples)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32)[None, :], format="flt", layout="mono"
        )
        frame.sample_rate = self.sample_rate
        frame.time_base = Fraction(1, self.sample_rate)
        frame.pts = self._pts
        self._pts += samples.size
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._take()

    def finish(self) -> bytes:
        """Flush the encoder and write the trailer; the rest of the file."""
        if self.raw:
            return b""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._closed = True
        if isinstance(self._sink, io.BytesIO):
            return self._sink.getvalue()
        return self._sink.take()

    def close(self) -> None:
        """Free the encoder without finishing (a cancelled request)."""
        if not self.raw and not self._closed:
            self._closed = True
            self._container.close()

    def _take(self) -> bytes:
        if self.raw or isinstance(self._sink, io.BytesIO):
            return b""
        return self._sink.take()
