"""multipart/form-data read into memory with limits (Litestar's own form parser spools files
over 1 MB to temporary files; uploads here never touch the disk)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import multipart

from multai_core.errors import InvalidRequest, RequestTooLarge

MAX_FIELD_BYTES = 256 * 1024
MAX_PARTS = 64


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class MultipartForm:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)

    def field(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None


def boundary_of(content_type: str | None) -> bytes:
    kind, options = multipart.parse_options_header(content_type or "")
    boundary = str(options.get("boundary", ""))
    if kind.lower() != "multipart/form-data" or not boundary:
        raise InvalidRequest(
            "Send this request as multipart/form-data (the OpenAI SDKs do), with the image as "
            "a file part."
        )
    return boundary.encode("latin-1")


async def read_multipart(
    content_type: str | None,
    body: AsyncIterator[bytes],
    *,
    max_file_bytes: int,
    max_field_bytes: int = MAX_FIELD_BYTES,
    max_parts: int = MAX_PARTS,
) -> MultipartForm:
    """Every part of the body: text fields decoded as UTF-8, files kept as bytes. A file over
    ``max_file_bytes`` is a 413; a text field over ``max_field_bytes`` or a malformed body a 400."""
    parser = multipart.PushMultipartParser(
        boundary_of(content_type), max_segment_count=max_parts, strict=True
    )
    form = MultipartForm()
    state: dict[str, multipart.MultipartSegment | None] = {"segment": None}
    buffer = bytearray()

    def feed(chunk: bytes) -> None:
        for event in parser.parse(chunk):
            if isinstance(event, multipart.MultipartSegment):
                state["segment"] = event
                buffer.clear()
            elif event:
                buffer.extend(event)
                _check_size(state["segment"], len(buffer), max_file_bytes, max_field_bytes)
            elif (segment := state["segment"]) is not None:
                _add(form, segment, bytes(buffer))
                state["segment"] = None

    try:
        async for chunk in body:
            if chunk and not parser.closed:
                feed(chunk)
        if not parser.closed:
            feed(b"")  # end of input: an unfinished body fails here
    except multipart.ParserLimitReached as exc:
        raise InvalidRequest(f"Too many form parts (at most {max_parts}).") from exc
    except multipart.MultipartError as exc:
        raise InvalidRequest("The multipart/form-data body is malformed.") from exc
    return form


def _check_size(
    segment: multipart.MultipartSegment | None, size: int, max_file: int, max_field: int
) -> None:
    if segment is None:
        return
    if segment.filename is not None:
        if size > max_file:
            raise RequestTooLarge(
                f"The file in '{segment.name}' is larger than this server accepts "
                f"({max_file} bytes).",
                param=segment.name,
            )
    elif size > max_field:
        raise InvalidRequest(
            f"The form field '{segment.name}' is longer than {max_field} bytes.",
            param=segment.name,
        )


def _add(form: MultipartForm, segment: multipart.MultipartSegment, data: bytes) -> None:
    name = segment.name or ""
    if segment.filename is not None:
        upload = UploadedFile(
            filename=segment.filename,
            content_type=segment.content_type or "application/octet-stream",
            data=data,
        )
        form.files.setdefault(name, []).append(upload)
        return
    try:
        text = data.decode(segment.charset or "utf-8")
    except (UnicodeDecodeError, LookupError) as exc:
        raise InvalidRequest(f"The form field '{name}' is not valid UTF-8.", param=name) from exc
    form.fields.setdefault(name, []).append(text)
