"""multipart/form-data read into memory with limits (Litestar's own form parser spools files
over 1 MB to temporary files; uploads here never touch the disk)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import multipart

from multai_core.plugin_api.errors import InvalidRequest, RequestTooLarge

MAX_FIELD_BYTES = 256 * 1024
MAX_PARTS = 64
FORM_ALLOWANCE = 1024 * 1024
"""Bytes a body may carry beside its files: part headers, boundaries and the text fields."""
MAX_HEADER_BYTES = 4096 + 128  # the multipart parser's limit for one part header line
MAX_HEADER_LINES = 8
NOT_MULTIPART = (
    "Send this request as multipart/form-data (the OpenAI SDKs do), with the image as a file part."
)


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, <{len(self.data)} bytes>)"


@dataclass
class MultipartForm:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)

    def field(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None


def boundary_of(content_type: str | None, not_multipart: str = NOT_MULTIPART) -> bytes:
    kind, options = multipart.parse_options_header(content_type or "")
    boundary = str(options.get("boundary", ""))
    if kind.lower() != "multipart/form-data" or not boundary:
        raise InvalidRequest(not_multipart)
    return boundary.encode("latin-1")


async def read_multipart(
    content_type: str | None,
    body: AsyncIterator[bytes],
    *,
    max_file_bytes: int,
    max_field_bytes: int = MAX_FIELD_BYTES,
    max_parts: int = MAX_PARTS,
    max_body_bytes: int | None = None,
    file_setting: str | None = None,
    content_length: str | None = None,
    only_file: str | None = None,
    strict: bool = True,
    not_multipart: str = NOT_MULTIPART,
) -> MultipartForm:
    """Every part of the body: text fields decoded as UTF-8, files kept as bytes. A file over
    ``max_file_bytes`` is a 413; a text field over ``max_field_bytes`` or a malformed body a 400;
    a Content-Type other than multipart/form-data a 400 that says ``not_multipart``.

    ``max_body_bytes`` caps the whole body: an announced ``content_length`` over it is a 413
    before anything is read, else the body is a 413 once that much has arrived (set it to the
    files' limit plus FORM_ALLOWANCE). ``file_setting`` names the [server] setting that
    ``max_file_bytes`` comes from, for the 413's message. ``only_file``
    names the one field whose file is kept: any part in it counts as a file, a second one is a
    400, and files in other fields are read past (counted, not kept)."""
    boundary = boundary_of(content_type, not_multipart)

    def check_body(size: int) -> None:
        if max_body_bytes is not None and size > max_body_bytes:
            raise _body_too_large(max_body_bytes, max_file_bytes, file_setting, only_file)

    check_body(int(content_length) if content_length and content_length.isdigit() else 0)
    parser = multipart.PushMultipartParser(
        boundary,
        max_header_size=MAX_HEADER_BYTES,
        max_header_count=MAX_HEADER_LINES,
        max_segment_count=max_parts,
        strict=strict,
    )
    form = MultipartForm()
    state: dict[str, multipart.MultipartSegment | None] = {"segment": None}
    buffer = bytearray()

    def feed(chunk: bytes) -> None:
        for event in parser.parse(chunk):
            if isinstance(event, multipart.MultipartSegment):
                state["segment"] = event if _keeps(form, event, only_file) else None
                buffer.clear()
            elif (segment := state["segment"]) is None:
                continue  # a file in a field this form does not keep
            elif event:
                buffer.extend(event)
                is_file = _is_file(segment, only_file)
                _check_size(
                    segment, is_file, len(buffer), max_file_bytes, max_field_bytes, file_setting
                )
            else:
                _add(form, segment, _is_file(segment, only_file), bytes(buffer))
                state["segment"] = None

    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            check_body(received)
            if chunk and not parser.closed:
                feed(chunk)
        if not parser.closed:
            feed(b"")  # end of input: an unfinished body fails here
    except multipart.ParserLimitReached as exc:
        raise _limit_reached(exc, max_parts) from exc
    except multipart.MultipartError as exc:
        raise InvalidRequest("The multipart/form-data body is malformed.") from exc
    return form


def _is_file(segment: multipart.MultipartSegment, only_file: str | None) -> bool:
    return segment.filename is not None or segment.name == only_file


def _keeps(form: MultipartForm, segment: multipart.MultipartSegment, only_file: str | None) -> bool:
    """Whether the part is read into the form; a second part in ``only_file`` is a 400."""
    if only_file is None or not _is_file(segment, only_file):
        return True
    if segment.name != only_file:
        return False
    if only_file in form.files:
        raise InvalidRequest(
            f"Send one file per request, in the field '{only_file}'.", param=only_file
        )
    return True


def _limit_reached(exc: multipart.ParserLimitReached, max_parts: int) -> InvalidRequest:
    """The parser's limit, named: it says which in its message (the library has no codes)."""
    reason = str(exc).lower()
    if "header length" in reason:
        return InvalidRequest(
            f"A form part has a header line longer than {MAX_HEADER_BYTES} bytes (its "
            "Content-Disposition with the field and file name, or another header): shorten it."
        )
    if "header count" in reason:
        return InvalidRequest(
            f"A form part has more than {MAX_HEADER_LINES} header lines; send at most "
            "Content-Disposition and Content-Type."
        )
    return InvalidRequest(f"Too many form parts (at most {max_parts}).")


def _setting(setting: str | None) -> str:
    return f", [server] {setting}" if setting else ""


def _too_large(name: str | None, limit: int, setting: str | None = None) -> RequestTooLarge:
    what = "The request body" if name is None else f"The file in '{name}'"
    return RequestTooLarge(
        f"{what} is larger than this server accepts ({limit} bytes{_setting(setting)}).",
        param=name,
    )


def _body_too_large(
    limit: int, max_file: int, setting: str | None, name: str | None
) -> RequestTooLarge:
    return RequestTooLarge(
        f"The request body is over {limit} bytes, the most this form may carry: the file "
        f"limit ({max_file} bytes{_setting(setting)}) plus {limit - max_file} bytes for the "
        "form's other parts. Send a smaller file or shorter fields.",
        param=name,
    )


def _check_size(
    segment: multipart.MultipartSegment,
    is_file: bool,
    size: int,
    max_file: int,
    max_field: int,
    setting: str | None,
) -> None:
    if is_file:
        if size > max_file:
            raise _too_large(segment.name, max_file, setting)
    elif size > max_field:
        raise InvalidRequest(
            f"The form field '{segment.name}' is longer than {max_field} bytes.",
            param=segment.name,
        )


def _add(
    form: MultipartForm, segment: multipart.MultipartSegment, is_file: bool, data: bytes
) -> None:
    name = segment.name or ""
    if is_file:
        upload = UploadedFile(
            filename=segment.filename or "",
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
