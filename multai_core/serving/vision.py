"""POST /v1/vision, a thin alias onto chat: its prompt and image become one user message of a
chat request, which then takes the chat path (same job, same response shapes). The image comes
inline (base64, a data URL, or a form's file) and is checked and decoded here, in the decode
pool under the server's pixel budget, before the request waits for the model."""

from __future__ import annotations

import base64
import binascii

from multai_core.engine.scheduler import Job
from multai_core.plugin_api.errors import InvalidRequest, RequestTooLarge
from multai_core.protocol.chat import (
    ChatCompletionRequest,
    ChatMessage,
    ImagePart,
    ImageURL,
    TextPart,
)
from multai_core.protocol.vision import VisionRequest
from multai_core.serving import chat
from multai_core.serving.chat_images import ImageLimits, decode_all, inline_bytes
from multai_core.serving.services import Services

UPLOADED_IMAGE_URL = "multai:uploaded-image"
"""The image_url of the part /v1/vision builds: the image itself is already decoded."""


def chat_request(req: VisionRequest) -> ChatCompletionRequest:
    """The chat request /v1/vision stands for: one user message, the image then the prompt."""
    return ChatCompletionRequest(
        model=req.model,
        messages=[
            ChatMessage(
                role="user",
                content=[
                    ImagePart(image_url=ImageURL(url=UPLOADED_IMAGE_URL, detail=req.detail)),
                    TextPart(text=req.prompt),
                ],
            )
        ],
        max_tokens=req.max_tokens,
        temperature=req.temperature,
        top_p=req.top_p,
        seed=req.seed,
        stop=req.stop,
        stream=req.stream,
        stream_options=req.stream_options,
        priority=req.priority,
        service_tier=req.service_tier,
    )


def _alias_image_bytes(image: str | bytes, limits: ImageLimits) -> bytes:
    """The file of the alias's ``image``: a form's file, a data URL or bare base64."""
    if isinstance(image, bytes):
        return image
    text = image.strip()
    if text.startswith("data:"):
        return inline_bytes(text, limits, "image")
    if (len(text) * 3) // 4 > limits.max_bytes + 3:
        raise RequestTooLarge(
            f"The image is over {limits.max_bytes / 2**20:.1f} MiB, the most this server accepts "
            "([server] max_image_bytes).",
            param="image",
        )
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            "image must be base64 image data or a data URL (data:image/png;base64,...).",
            param="image",
            code="invalid_image",
        ) from exc


async def start_alias(
    services: Services, req: VisionRequest, image: str | bytes | None, request_id: str
) -> tuple[Job, ChatCompletionRequest]:
    """Queue a /v1/vision request; returns its job and the chat request it became."""
    if image is None or not image:
        raise InvalidRequest(
            "image is required: base64 data or a data URL in JSON, or a file in a multipart form.",
            param="image",
        )
    chat_req = chat_request(req)
    spec = services.registry.resolve(req.model, kind="vision")
    chat.check_caller(spec, chat_req)
    limits = ImageLimits.of(services.config.server)
    data = await services.decoding.run(_alias_image_bytes, image, limits)
    images = await decode_all([(data, "image")], limits, services.decoding)
    return await chat.start(services, chat_req, request_id, images=images), chat_req
