"""multai_core.media.image_codec: hostile uploads in, encoded images out; and the public
RawImage <-> Pillow helpers it uses."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from typing import Any

import pytest
from PIL import Image, ImageDraw

from multai_core.media.image_codec import decode_data_url, decode_image, encode_raw
from multai_core.plugin_api import InvalidRequest, RawImage, RequestTooLarge, from_pil, to_pil

LIMITS: dict[str, Any] = {"max_pixels": 1_000_000, "max_bytes": 1_000_000}


def image_file(size: tuple[int, int], fmt: str = "PNG") -> bytes:
    """A real image with structure (a gradient and a square), encoded as ``fmt``."""
    width, height = size
    ramp = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90)
    image = ramp.resize(size).convert("RGB")
    ImageDraw.Draw(image).rectangle(
        (width // 4, height // 4, width // 2 - 1, height // 2 - 1), fill=(200, 30, 30)
    )
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height pixels: decoding it would expand to gigabytes;
    it must be refused from the header alone."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * (1 + 3 * width) * 4)  # only a few rows: the rest never read
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_decodes_the_formats_clients_send(fmt: str) -> None:
    image = decode_image(image_file((40, 30), fmt), **LIMITS)
    assert image.size == (40, 30)


@pytest.mark.parametrize(
    ("side", "fragment"),
    [(5_000, "5000x5000"), (12_000, "12000x12000"), (100_000, "at most 1000000")],
)
def test_a_decompression_bomb_is_refused_from_its_header(side: int, fragment: str) -> None:
    bomb = bomb_png(side, side)
    assert len(bomb) < 200_000
    with pytest.raises(InvalidRequest) as refused:
        decode_image(bomb, **LIMITS)
    assert refused.value.code == "image_too_large"
    assert fragment in refused.value.message


def test_pixel_limit() -> None:
    data = image_file((200, 100))
    assert decode_image(data, max_pixels=20_000, max_bytes=10**6).size == (200, 100)
    with pytest.raises(InvalidRequest):
        decode_image(data, max_pixels=19_999, max_bytes=10**6)


def test_byte_limit_is_a_413() -> None:
    data = image_file((64, 64))
    with pytest.raises(RequestTooLarge):
        decode_image(data, max_pixels=10**6, max_bytes=len(data) - 1)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a",
        b"not an image at all",
        image_file((64, 64), "BMP"),
        image_file((64, 64), "TIFF"),
    ],
)
def test_non_images_and_other_formats_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidRequest):
        decode_image(data, **LIMITS)


def test_truncated_images_are_refused() -> None:
    noise = Image.frombytes("RGB", (64, 64), bytes(range(256)) * 48)
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    with pytest.raises(InvalidRequest) as refused:
        decode_image(buffer.getvalue()[: len(buffer.getvalue()) // 2], **LIMITS)
    assert "truncated" in refused.value.message


def test_data_urls() -> None:
    data = image_file((32, 16), "JPEG")
    url = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    assert decode_data_url(url, **LIMITS).size == (32, 16)
    for bad in (
        "https://example.com/a.png",
        "data:text/plain;base64,aGVsbG8=",
        "data:image/png,rawbytes",
        "data:image/png;base64,***",
    ):
        with pytest.raises(InvalidRequest):
            decode_data_url(bad, **LIMITS)
    with pytest.raises(RequestTooLarge):
        decode_data_url(url, max_pixels=10**6, max_bytes=len(data) // 2)


def test_raw_round_trip_and_encodings() -> None:
    source = Image.open(io.BytesIO(image_file((24, 16)))).convert("RGB")
    raw = from_pil(source)
    assert (raw.width, raw.height, raw.mode, len(raw.pixels)) == (24, 16, "RGB", 24 * 16 * 3)
    assert to_pil(raw).tobytes() == source.tobytes()
    png = Image.open(io.BytesIO(encode_raw(raw, "png")))
    assert png.format == "PNG" and png.convert("RGB").tobytes() == source.tobytes()  # lossless
    assert Image.open(io.BytesIO(encode_raw(raw, "jpeg", quality=80))).format == "JPEG"
    lossless = Image.open(io.BytesIO(encode_raw(raw, "webp")))
    assert lossless.format == "WEBP" and lossless.convert("RGB").tobytes() == source.tobytes()
    with pytest.raises(ValueError, match="needs"):
        to_pil(RawImage(width=2, height=2, mode="RGB", pixels=b"short"))


def test_transparency_is_composited_on_white() -> None:
    clear = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    assert from_pil(clear).pixels == b"\xff\xff\xff" * 2
    assert from_pil(clear, "RGBA").pixels == b"\xff\x00\x00\x00" * 2
