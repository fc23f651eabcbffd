"""The in-memory multipart reader: limits, the one-file mode the audio endpoints use, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from multai_core.media.multipart import MultipartForm, read_multipart
from multai_core.plugin_api.errors import InvalidRequest, MultaiError, RequestTooLarge

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
