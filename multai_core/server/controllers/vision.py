"""POST /v1/vision: one prompt about one image (the thesis's endpoint), answered as a chat
completion. The body is JSON or a multipart form; both are read in memory, each under its own
cap: JSON at most max_body_bytes (the image inside is base64), a form at most its file's limit
(max_image_bytes) plus FORM_ALLOWANCE, so a form carries an image as large as JSON may not."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.response import Stream

from multai_core.media.multipart import FORM_ALLOWANCE, read_multipart
from multai_core.plugin_api.errors import InvalidRequest, RequestTooLarge
from multai_core.protocol.chat import ChatCompletion, ChatCompletionChunk
from multai_core.protocol.vision import VisionRequest
from multai_core.server.openapi import streamable
from multai_core.server.request_id import request_id_of
from multai_core.server.responses import event_stream, until_done
from multai_core.serving import chat, vision
from multai_core.serving.services import Services

AnyRequest = Request[Any, Any, Any]
MAX_FORM_PARTS = 32
DESCRIPTION = """\
The thesis's vision endpoint, an alias onto chat completions: `prompt` and `image` become one
user message (the image, then the prompt), and the answer is exactly what
/v1/chat/completions returns (a `chat.completion`, or `chat.completion.chunk` events when
`stream` is true).

Send JSON `{"model", "prompt", "image", "max_tokens"}` with `image` as base64 data or a
`data:image/png;base64,...` URL, or a multipart form with the same fields and `image` as a
file. Optional: temperature, top_p, seed, stop, detail, stream, stream_options, priority."""


def _json_request(body: bytes) -> tuple[VisionRequest, str | None]:
    if not body.strip():
        raise InvalidRequest("The request body is empty; send a JSON object or a form.")
    try:
        req = msgspec.json.decode(body, type=VisionRequest)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Invalid request body: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise InvalidRequest("The request body is not valid JSON.") from exc
    return req, req.image


async def _form_request(
    request: AnyRequest, max_image_bytes: int
) -> tuple[VisionRequest, str | bytes | None]:
    form = await read_multipart(
        request.headers.get("content-type"),
        request.stream(),
        max_file_bytes=max_image_bytes,
        max_parts=MAX_FORM_PARTS,
        max_body_bytes=max_image_bytes + FORM_ALLOWANCE,
        file_setting="max_image_bytes",
        content_length=request.headers.get("content-length"),
    )
    raw: dict[str, Any] = {
        name: form.field(name) for name in form.fields if name != "stream_options"
    }
    try:
        req = msgspec.convert(raw, VisionRequest, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Invalid form field: {exc}") from exc
    files = form.files.get("image")
    image: str | bytes | None = files[-1].data if files else form.field("image")
    return req, image


def _json_too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"The JSON body is over {limit} bytes, the most this server accepts ([server] "
        "max_body_bytes); send a large image as a multipart form's file instead.",
    )


async def _json_body(request: AnyRequest, limit: int) -> bytes:
    """The body, refused once it passes ``limit`` (announced or counted)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _json_too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _json_too_large(limit)
    return bytes(body)


async def read_vision_request(
    request: AnyRequest, max_image_bytes: int, max_body_bytes: int
) -> tuple[VisionRequest, str | bytes | None]:
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        return await _form_request(request, max_image_bytes)
    if content_type and "json" not in content_type.lower():
        raise InvalidRequest(
            "Send the request as application/json or multipart/form-data.",
        )
    return _json_request(await _json_body(request, max_body_bytes))


class VisionController(Controller):
    path = "/v1"
    tags = ["vision"]

    @post(
        "/vision",
        status_code=200,
        summary="Ask about an image (alias onto chat completions)",
        description=DESCRIPTION,
        responses={200: streamable(ChatCompletion, ChatCompletionChunk)},
        request_max_body_size=None,  # enforced while reading: JSON and forms have their own caps
    )
    async def vision(self, request: AnyRequest, state: State) -> ChatCompletion | Stream:
        services: Services = state.services
        server = services.config.server
        req, image = await read_vision_request(
            request, server.max_image_bytes, server.max_body_bytes
        )
        request_id = request_id_of(request.scope)
        response_id = f"chatcmpl-{request_id}"
        job, chat_req = await vision.start_alias(services, req, image, request_id)
        if chat_req.stream:
            return await event_stream(
                services.scheduler,
                job,
                lambda first: chat.stream(job, chat_req, response_id, first),
                request=request,
            )
        return await until_done(
            request, services.scheduler, job, chat.complete(job, chat_req, response_id)
        )
