"""Speech to text: POST /v1/audio/transcriptions and /v1/audio/translations (multipart).

Litestar's own form parsing is not used: it caps bodies at the app's JSON limit and spools any
file over 1 MB to a temporary file. Here the body is read as it arrives, the audio kept in
memory, and an upload over ``max_audio_bytes`` refused with a 413 as soon as that is known:
from the Content-Length header before anything is read, else once the file part passes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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

from multai_core.media.multipart import FORM_ALLOWANCE, UploadedFile, read_multipart
from multai_core.protocol.audio import TranscriptionForm, TranscriptionJson, TranslationForm
from multai_core.server.request_id import request_id_of
from multai_core.server.responses import event_stream, until_done
from multai_core.serving import audio
from multai_core.serving.services import Services

AnyRequest = Request[Any, Any, Any]
FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024
NOT_MULTIPART = (
    "Send the request as multipart/form-data with the audio in the field `file` "
    "(the OpenAI SDKs do; with curl use -F file=@speech.mp3)."
)


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
    job = await audio.start(services, form, upload, kind, request_id_of(request.scope))
    if form.stream:
        return await event_stream(
            services.scheduler, job, lambda first: audio.stream(job, first), request=request
        )
    result = await until_done(request, services.scheduler, job, audio.complete(job, form, kind))
    if isinstance(result, audio.PlainText):
        return Response(result.text, media_type=result.media_type)
    return Response(result)


async def read_audio_form(
    request: AnyRequest, max_file_bytes: int
) -> tuple[dict[str, list[str]], UploadedFile | None]:
    """The text fields and the file of a multipart/form-data body, all in memory."""
    form = await read_multipart(
        request.headers.get("content-type"),
        request.stream(),
        max_file_bytes=max_file_bytes,
        max_field_bytes=MAX_FIELD_BYTES,
        max_body_bytes=max_file_bytes + FORM_ALLOWANCE,
        file_setting="max_audio_bytes",
        content_length=request.headers.get("content-length"),
        only_file=FILE_FIELD,
        strict=False,
        not_multipart=NOT_MULTIPART,
    )
    uploads = form.files.get(FILE_FIELD)
    return form.fields, uploads[0] if uploads else None
