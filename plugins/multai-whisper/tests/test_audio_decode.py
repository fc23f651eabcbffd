"""Decoding uploads in memory: every common container and codec, and clear 400s for files that
are not audio, have no audio track, or run past the duration limit."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from multai_whisper.audio_decode import SAMPLE_RATE, decode
from speech_fixtures import fixture_path
from transcoding import FORMATS, encode, joined, samples

from multai_core.plugin_api import InvalidRequest

SPEECH = samples(fixture_path("en_invoice.wav"))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_formats_decode_to_16k_mono(fmt: str) -> None:
    audio = decode(encode(SPEECH, fmt), max_seconds=60)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size / SAMPLE_RATE == pytest.approx(SPEECH.size / SAMPLE_RATE, abs=0.15)
    # loud where the speech is loud: the decoded signal is the fixture, not noise or silence
    assert 0.3 < float(np.abs(audio).max()) <= 1.0


def test_wav_decodes_to_the_same_samples() -> None:
    audio = decode(fixture_path("en_invoice.wav").read_bytes(), max_seconds=60)
    assert np.allclose(audio, SPEECH, atol=1e-4)


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", b'{"model": "whisper-1"}', bytes(range(256)) * 40, b"\0" * 4096],
    ids=["empty", "text", "json", "bytes", "zeros"],
)
def test_not_audio(data: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode(data, max_seconds=60)
    assert caught.value.param == "file"
    assert "not audio" in caught.value.message or "no audio" in caught.value.message


def _png() -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="image2pipe") as container:
        stream = container.add_stream("png", rate=1)
        stream.width = stream.height = 8
        stream.pix_fmt = "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((8, 8, 3), dtype=np.uint8), format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def test_image_has_no_audio_track() -> None:
    with pytest.raises(InvalidRequest, match="no audio track"):
        decode(_png(), max_seconds=60)


def test_truncated_file_keeps_what_decodes() -> None:
    data = encode(SPEECH, "mp3")
    audio = decode(data[: len(data) // 2], max_seconds=60)
    assert 1.5 < audio.size / SAMPLE_RATE < 4.0


def test_duration_limit_while_decoding() -> None:
    long = encode(joined([fixture_path("en_invoice.wav")], seconds=12), "ogg")
    assert decode(long, max_seconds=13).size == pytest.approx(
        12 * SAMPLE_RATE, abs=SAMPLE_RATE // 10
    )
    with pytest.raises(InvalidRequest, match="longer than this server accepts"):
        decode(long, max_seconds=10)


def test_duration_limit_from_the_header() -> None:
    # a FLAC whose STREAMINFO announces an hour: refused before anything is decoded
    data = bytearray(encode(SPEECH, "flac"))
    assert data[:4] == b"fLaC"
    fields = int.from_bytes(data[18:26], "big")  # rate, channels, bits, 36-bit sample count
    fields = (fields & ~((1 << 36) - 1)) | (3600 * SAMPLE_RATE)
    data[18:26] = fields.to_bytes(8, "big")
    with av.open(io.BytesIO(bytes(data))) as container:
        stream = container.streams.audio[0]
        assert stream.duration is not None and stream.duration * stream.time_base == 3600
    with pytest.raises(InvalidRequest, match="longer than this server accepts"):
        decode(bytes(data), max_seconds=60)
