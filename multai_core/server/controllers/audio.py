"""Speech to text: POST /v1/audio/transcriptions and /v1/audio/translations (multipart).

Litestar's own form parsing is not used: it caps bodies at the app's JSON limit and spools any
file over 1 MB to a temporary file. Here the body is read as it arrives, the audio kept in
memory, and an upload over ``max_audio_bytes`` refused with a 413 as soon as that is known:
from the Content-Length header before anything is read, else once the file part passes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import multipart
from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.response import Stream

from multai_core.errors import InvalidRequest, RequestTooLarge
from multai_core.protocol.audio import TranscriptionForm, TranscriptionJson, TranslationForm
from multai_core.server.request_id import request_id_of
from multai_core.server.responses import event_stream, until_done
from multai_core.serving import audio
from multai_core.serving.services import Services

AnyRequest = Request[Any, Any, Any]
FILE_FIELD = "file"
FORM_ALLOWANCE = 1024 * 1024
"""Bytes a body may carry beside the file: part headers, boundaries and the text fields."""
MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 64


def _form_schema(*, granularities: bool) -> Schema:
    text = Schema(type=OpenAPIType.STRING)
    properties: dict[str, Any] = {
        "file": Schema(
            type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, description="The audio file"
        ),
        "model": text,
        "language": Schema(type=OpenAPIType.STRING, description="ISO-639-1 code, e.g. en"),
        "prompt": text,
        "initial_prompt": Schema(type=OpenAPIType.STRING, description="Same as prompt"),
        "response_format": Schema(
            type=OpenAPIType.STRING, enum=["json", "text", "srt", "verbose_json", "vtt"]
        ),
        "temperature": Schema(type=OpenAPIType.NUMBER, minimum=0, maximum=1),
        "stream": Schema(type=OpenAPIType.BOOLEAN, description="SSE transcript.text.* events"),
        "priority": Schema(type=OpenAPIType.INTEGER, minimum=0, maximum=2),
    }
    if granularities:
        properties["timestamp_granularities[]"] = Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(type=OpenAPIType.STRING, enum=["word", "segment"]),
        )
    return Schema(type=OpenAPIType.OBJECT, properties=properties, required=["file", "model"])


def _operation(*, granularities: bool) -> type[Operation]:
    """An OpenAPI operation that documents the multipart form (Litestar infers none, since the
    handler reads the body itself)."""

    @dataclass
    class MultipartOperation(Operation):
        def __post_init__(self) -> None:
            schema = _form_schema(granularities=granularities)
            self.request_body = RequestBody(
                content={"multipart/form-data": OpenAPIMediaType(schema=schema)}, required=True
            )

    return MultipartOperation


OK_RESPONSE = ResponseSpec(
    data_container=TranscriptionJson,
    description=(
        "json: TranscriptionJson; verbose_json: TranscriptionVerboseJson; text, srt and vtt as "
        "plain text; with stream=true, text/event-stream events `data: <TranscriptTextDelta>` "
        "then `data: <TranscriptTextDone>` and `data: [DONE]`"
    ),
    generate_examples=False,
)


class AudioController(Controller):
    path = "/v1/audio"
    tags = ["audio"]

    @post(
        "/transcriptions",
        status_code=200,
        request_max_body_size=None,  # enforced while reading, from [server].max_audio_bytes
        summary="Transcribe audio into the language spoken",
        operation_class=_operation(granularities=True),
        responses={200: OK_RESPONSE},
    )
    async def transcriptions(self, request: AnyRequest, state: State) -> Response[Any] | Stream:
        return await _serve(request, state.services, "transcription")

    @post(
        "/translations",
        status_code=200,
        request_max_body_size=None,
        summary="Translate audio into English text",
        operation_class=_operation(granularities=False),
        responses={200: OK_RESPONSE},
    )
    async def translations(self, request: AnyRequest, state: State) -> Response[Any] | Stream:
        return await _serve(request, state.services, "translation")


async def _serve(
    request: AnyRequest, services: Services, kind: audio.AudioKind
) -> Response[Any] | Stream:
    fields, upload = await read_audio_form(request, services.config.server.max_audio_bytes)
    form: audio.AudioForm
    if kind == "transcription":
        form = audio.parse_form(fields, TranscriptionForm)
    else:
        form = audio.parse_form(fields, TranslationForm)
    job = audio.start(services, form, upload, kind, request_id_of(request.scope))
    if form.stream:
        return await event_stream(
            services.scheduler, job, lambda first: audio.stream(job, first), request=request
        )
    result = await until_done(request, services.scheduler, job, audio.complete(job, form, kind))
    if isinstance(result, audio.PlainText):
        return Response(result.text, media_type=result.media_type)
    return Response(result)


def _too_large(max_file_bytes: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"The audio file is larger than this server accepts ({max_file_bytes} bytes, "
        f"{max_file_bytes / 2**20:.0f} MiB).",
        param=FILE_FIELD,
    )


async def read_audio_form(
    request: AnyRequest, max_file_bytes: int
) -> tuple[dict[str, list[str]], audio.AudioUpload | None]:
    """The text fields and the file of a multipart/form-data body, all in memory."""
    kind, options = multipart.parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get("boundary", "")
    if kind.lower() != "multipart/form-data" or not boundary:
        raise InvalidRequest(
            "Send the request as multipart/form-data with the audio in the field `file` "
            "(the OpenAI SDKs do; with curl use -F file=@speech.mp3)."
        )
    max_body = max_file_bytes + FORM_ALLOWANCE
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > max_body:
        raise _too_large(max_file_bytes)
    reader = _FormReader(boundary.encode("latin-1"), max_file_bytes)
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body:
                raise _too_large(max_file_bytes)
            if chunk and not reader.parser.closed:
                reader.feed(chunk)
        if not reader.parser.closed:
            reader.feed(b"")  # end of input: an unfinished body fails here
    except multipart.ParserLimitReached as exc:
        raise InvalidRequest(f"Too many form parts (at most {MAX_PARTS}).") from exc
    except multipart.MultipartError as exc:
        raise InvalidRequest("The multipart/form-data body is malformed.") from exc
    return reader.fields, reader.upload


class _FormReader:
    def __init__(self, boundary: bytes, max_file_bytes: int) -> None:
        self.parser = multipart.PushMultipartParser(boundary, max_segment_count=MAX_PARTS)
        self.fields: dict[str, list[str]] = {}
        self.upload: audio.AudioUpload | None = None
        self._max_file_bytes = max_file_bytes
        self._segment: multipart.MultipartSegment | None = None
        self._buffer = bytearray()
        self._is_file = False

    def feed(self, chunk: bytes) -> None:
        for event in self.parser.parse(chunk):
            if isinstance(event, multipart.MultipartSegment):
                self._begin(event)
            elif event:
                self._data(event)
            else:
                self._end()

    def _begin(self, segment: multipart.MultipartSegment) -> None:
        self._segment = segment
        self._buffer = bytearray()
        self._is_file = segment.name == FILE_FIELD
        if self._is_file and self.upload is not None:
            raise InvalidRequest("Send one audio file per request.", param=FILE_FIELD)

    def _data(self, data: bytes) -> None:
        segment = self._segment
        if segment is None:
            return
        if self._is_file:
            if len(self._buffer) + len(data) > self._max_file_bytes:
                raise _too_large(self._max_file_bytes)
        elif segment.filename is not None:
            return  # a file in a field this endpoint does not read: counted, not kept
        elif len(self._buffer) + len(data) > MAX_FIELD_BYTES:
            raise InvalidRequest(
                f"The form field '{segment.name}' is longer than {MAX_FIELD_BYTES} bytes.",
                param=segment.name,
            )
        self._buffer += data

    def _end(self) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        if self._is_file:
            self.upload = audio.AudioUpload(
                filename=segment.filename or "",
                content_type=segment.content_type or "application/octet-stream",
                data=bytes(self._buffer),
            )
        elif segment.filename is None:
            name = segment.name or ""
            try:
                text = self._buffer.decode(segment.charset or "utf-8")
            except (UnicodeDecodeError, LookupError) as exc:
                raise InvalidRequest(
                    f"The form field '{name}' is not valid UTF-8.", param=name
                ) from exc
            self.fields.setdefault(name, []).append(text)
        self._buffer = bytearray()
