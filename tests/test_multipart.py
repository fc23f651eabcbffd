"""The in-memory multipart reader: limits, the one-file mode the audio endpoints use, errors;
and through the server, the body caps of the form endpoints (a form may carry a file as large
as that file's own limit)."""

from __future__ import annotations

import asyncio
import base64
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from multai_core.config import Config, ServerConfig
from multai_core.media.multipart import MultipartForm, read_multipart
from multai_core.plugin_api.errors import InvalidRequest, MultaiError, RequestTooLarge
from multai_core.testing.image_host import image_bytes
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin

CONTENT_TYPE = "multipart/form-data; boundary=b"
END = b"--b--\r\n"
ONE_FILE: dict[str, Any] = {"only_file": "file", "max_body_bytes": 1000, "strict": False}


def part(name: str, data: bytes, filename: str | None = None) -> bytes:
    extra = "" if filename is None else f'; filename="{filename}"'
    head = f'--b\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n'
    return head.encode() + data + b"\r\n"


def read(body: bytes, content_type: str = CONTENT_TYPE, **options: Any) -> MultipartForm:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64):
            yield body[start : start + 64]

    options.setdefault("max_file_bytes", 100)
    return asyncio.run(read_multipart(content_type, chunks(), **options))


def refused(body: bytes, error: type[MultaiError], **options: Any) -> MultaiError:
    with pytest.raises(error) as caught:
        read(body, **options)
    return caught.value


def test_fields_and_files_of_every_field() -> None:
    form = read(
        part("prompt", b"hi") + part("image", b"png", "a.png") + part("mask", b"m", "m") + END
    )
    assert form.field("prompt") == "hi"
    assert [f.data for f in form.files["image"]] == [b"png"]
    assert form.files["mask"][0].content_type == "application/octet-stream"


def test_limits_of_files_and_fields() -> None:
    error = refused(part("image", b"x" * 101, "a.png") + END, RequestTooLarge)
    assert error.param == "image" and "100 bytes" in error.message
    error = refused(part("prompt", b"x" * 11) + END, InvalidRequest, max_field_bytes=10)
    assert error.param == "prompt"


def test_wrong_content_type_and_malformed_body() -> None:
    error = refused(b"{}", InvalidRequest, content_type="application/json", not_multipart="Hint.")
    assert error.message == "Hint."
    error = refused(part("model", b"w"), InvalidRequest)  # no closing boundary
    assert "malformed" in error.message


def test_one_file_keeps_that_field_only() -> None:
    body = part("model", b"w") + part("other", b"x" * 500, "o.bin") + part("file", b"ab") + END
    form = read(body, **ONE_FILE)
    assert list(form.files) == ["file"] and form.files["file"][0].data == b"ab"
    assert form.field("model") == "w"


def test_one_file_refuses_a_second() -> None:
    body = part("file", b"a", "a.wav") + part("file", b"b", "b.wav") + END
    assert refused(body, InvalidRequest, **ONE_FILE).param == "file"


def test_body_limit_announced_or_counted() -> None:
    small = part("file", b"a", "a.wav") + END
    error = refused(small, RequestTooLarge, content_length="1001", **ONE_FILE)
    assert error.param == "file" and "100 bytes" in error.message
    big = part("other", b"x" * 1000, "o.bin") + END
    assert refused(big, RequestTooLarge, **ONE_FILE).param == "file"
    error = refused(big, RequestTooLarge, max_file_bytes=2000, max_body_bytes=1000)
    assert error.param is None and "1000 bytes" in error.message


def test_an_over_long_part_header_is_named() -> None:
    long_name = "n" * 5000
    body = part(long_name, b"x") + END
    error = refused(body, InvalidRequest)
    assert "header line longer than" in error.message
    assert "Too many form parts" not in error.message


# --- through the server: /v1/vision takes a form as large as its file's own limit ----------------

MiB = 2**20


def padded_png(total: int) -> bytes:
    """A valid 8x8 PNG padded to exactly ``total`` bytes with a private ancillary chunk, which
    decoders skip: an image file as large as the limit that costs nothing to decode."""
    head = image_bytes((10, 120, 30), size=(8, 8))
    signature_and_ihdr, rest = head[:33], head[33:]
    padding = total - len(head) - 12
    chunk = struct.pack(">I", padding) + b"prVt" + b"\0" * padding
    chunk += struct.pack(">I", zlib.crc32(b"prVt" + b"\0" * padding))
    return signature_and_ihdr + chunk + rest


@pytest.fixture(scope="module")
def vision_server() -> Iterator[str]:
    config = Config(server=ServerConfig(max_body_bytes=4 * MiB))
    with make_server(EchoPlugin(), config) as base_url:
        yield base_url


def post_form(base_url: str, image: bytes) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/vision",
        data={"model": "echo", "prompt": "what is it?"},
        files={"image": ("a.png", image, "image/png")},
        timeout=60,
    )


def test_vision_form_takes_an_image_at_the_image_limit(vision_server: str) -> None:
    image = padded_png(ServerConfig().max_image_bytes)
    response = post_form(vision_server, image)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "image:8x8 what is it?"


def test_vision_form_over_the_image_limit_names_it(vision_server: str) -> None:
    response = post_form(vision_server, padded_png(ServerConfig().max_image_bytes + MiB + 1))
    assert response.status_code == 413
    error = response.json()["error"]
    assert "max_image_bytes" in error["message"] and str(20 * MiB) in error["message"]


def test_vision_json_over_the_body_limit_names_it(vision_server: str) -> None:
    image = base64.b64encode(padded_png(5 * MiB)).decode()
    response = httpx.post(
        f"{vision_server}/v1/vision",
        json={"model": "echo", "prompt": "p", "image": image},
        timeout=60,
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert "max_body_bytes" in error["message"] and str(4 * MiB) in error["message"]
