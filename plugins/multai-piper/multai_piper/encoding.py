"""Mono float32 samples into one of the speech response formats, piece by piece, so each piece
can be sent as soon as it is spoken. Nothing here is Piper's: it could serve any speech pack.

- pcm: raw 16-bit little-endian samples at the voice's rate.
- wav: a RIFF header whose sizes say "unknown" (0xFFFFFFFF, as OpenAI's streamed wav), then the
  same samples; decoders read to the end.
- mp3, opus (Ogg), aac (ADTS): PyAV (FFmpeg) muxing into a sink that cannot seek. Opus takes
  only 8, 12, 16, 24 and 48 kHz, so PyAV resamples to the nearest rate at or above the voice's.
- flac: written whole at the end, because its STREAMINFO (length, MD5) is right only once the
  muxer can seek back, and common decoders refuse a flac of unknown length.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

import av
import numpy as np

UNKNOWN_SIZE = 0xFFFFFFFF


class SpeechEncoder(Protocol):
    def encode(self, samples: np.ndarray) -> bytes:
        """The bytes of the file that ``samples`` completes (may be empty)."""
        ...

    def finish(self) -> bytes:
        """The rest of the file; call once, after the last ``encode``."""
        ...

    def close(self) -> None:
        """Free the encoder without finishing (a cancelled request)."""
        ...


def pcm16(samples: np.ndarray) -> bytes:
    """Float in [-1, 1] to s16le as FFmpeg converts it (x 32768, rounded, clipped), so the
    pcm and wav responses hold the samples the codecs were given."""
    scaled = np.rint(np.asarray(samples, dtype=np.float32).reshape(-1) * np.float32(32768.0))
    data: bytes = np.clip(scaled, -32768, 32767).astype("<i2").tobytes()
    return data


def wav_header(sample_rate: int) -> bytes:
    """A 16-bit mono PCM RIFF header for a stream whose length is not known yet."""
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", UNKNOWN_SIZE)
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", UNKNOWN_SIZE)
    )


class PcmEncoder:
    def __init__(self, header: bytes = b"") -> None:
        self._header = header

    def encode(self, samples: np.ndarray) -> bytes:
        header, self._header = self._header, b""
        return header + pcm16(samples)

    def finish(self) -> bytes:
        return self.encode(np.zeros(0, dtype=np.float32))

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Codec:
    muxer: str
    codec: str
    bit_rate: int | None = None
    rates: tuple[int, ...] = ()
    """The sample rates the codec takes, ascending; empty: any."""
    whole: bool = False
    """Written to a seekable buffer and returned by finish() only."""
    muxer_options: dict[str, str] = field(default_factory=dict)


CODECS = {
    "mp3": Codec("mp3", "libmp3lame", bit_rate=64_000),
    # short Ogg pages let each piece leave the muxer as soon as it is encoded
    "opus": Codec(
        "ogg",
        "libopus",
        bit_rate=32_000,
        rates=(8_000, 12_000, 16_000, 24_000, 48_000),
        muxer_options={"page_duration": "100000"},
    ),
    "aac": Codec("adts", "aac", bit_rate=64_000),
    "flac": Codec("flac", "flac", whole=True),
}


def codec_rate(codec: Codec, sample_rate: int) -> int:
    if not codec.rates:
        return sample_rate
    return next((rate for rate in codec.rates if rate >= sample_rate), codec.rates[-1])


class _Chunks:
    """A write-only file for a muxer that cannot seek: what it wrote since the last drain()."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class CodecEncoder:
    def __init__(self, codec: Codec, sample_rate: int) -> None:
        self._rate = sample_rate
        self._samples_in = 0
        self._output: _Chunks | io.BytesIO = io.BytesIO() if codec.whole else _Chunks()
        self._container = av.open(
            self._output, "w", format=codec.muxer, options=dict(codec.muxer_options)
        )
        self._open = True
        stream = self._container.add_stream(
            codec.codec, rate=codec_rate(codec, sample_rate), layout="mono"
        )
        assert isinstance(stream, av.audio.stream.AudioStream)
        if codec.bit_rate:
            stream.bit_rate = codec.bit_rate
        self._stream = stream

    def _mux(self, frame: av.AudioFrame | None) -> bytes:
        # PyAV converts each frame to the codec's sample format, rate and frame size.
        self._container.mux(self._stream.encode(frame))
        return b"" if isinstance(self._output, io.BytesIO) else self._output.drain()

    def encode(self, samples: np.ndarray) -> bytes:
        flat = np.ascontiguousarray(np.asarray(samples, dtype=np.float32).reshape(1, -1))
        if flat.size == 0:
            return b""
        frame = av.AudioFrame.from_ndarray(flat, format="flt", layout="mono")
        frame.sample_rate = self._rate
        frame.time_base = Fraction(1, self._rate)
        frame.pts = self._samples_in
        self._samples_in += flat.size
        return self._mux(frame)

    def finish(self) -> bytes:
        tail = self._mux(None)
        self._open = False
        self._container.close()
        if isinstance(self._output, io.BytesIO):
            return self._output.getvalue()
        return tail + self._output.drain()

    def close(self) -> None:
        if self._open:
            self._open = False
            self._container.close()


def open_encoder(response_format: str, sample_rate: int) -> SpeechEncoder:
    """The encoder of ``response_format`` (mp3, opus, aac, flac, wav or pcm)."""
    if response_format == "pcm":
        return PcmEncoder()
    if response_format == "wav":
        return PcmEncoder(wav_header(sample_rate))
    return CodecEncoder(CODECS[response_format], sample_rate)
