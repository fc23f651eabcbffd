"""Images for models that see them, prepared before a request is queued, and POST /v1/vision.

Every image of a chat request is decoded and checked here (count, bytes, pixels: a
decompression bomb never expands) so that a bad image is a 400 before any model work; the
decoded Pillow images travel to the plugin in ``Task.options["images"]``, in message order.
An image comes as a data URL; an http(s) URL is fetched only where the operator enabled
``allow_remote_images`` (a server that fetches URLs for its callers is an SSRF hole), with a
time limit and a byte cap enforced while the body streams in.

/v1/vision is a thin alias: its prompt and image become one user message of a chat request,
which then takes the chat path (same job, same response shapes)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog

from multai_core.config import ServerConfig
from multai_core.media.image_codec import decode_data_url, decode_image
from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import InvalidRequest, RequestTooLarge
from multai_core.protocol.chat import (
    ChatCompletionRequest,
    ChatMessage,
    ImagePart,
    ImageURL,
    TextPart,
)
from multai_core.protocol.common import effective_priority
from multai_core.protocol.vision import VisionRequest

if TYPE_CHECKING:
    import httpx
    from PIL import Image

    from multai_core.plugin_api.types import ModelSpec
    from multai_core.scheduler import Job
    from multai_core.serving.services import Services

log = structlog.get_logger(__name__)
UPLOADED_IMAGE_URL = "multai:uploaded-image"
"""The image_url of the part /v1/vision builds: the image itself is already decoded."""
_CHUNK = 64 * 1024
# identity: the byte cap then counts what crossed the network, and no compressed body expands
_FETCH_HEADERS = {"accept": "image/*", "accept-encoding": "identity"}


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int
    max_images: int
    allow_remote: bool
    remote_timeout_s: float

    @classmethod
    def of(cls, server: ServerConfig) -> ImageLimits:
        return cls(
            max_bytes=server.max_image_bytes,
            max_pixels=server.max_image_pixels,
            max_images=server.max_images_per_request,
            allow_remote=server.allow_remote_images,
            remote_timeout_s=server.remote_image_timeout_s,
        )


@dataclass(frozen=True)
class ImageRef:
    url: str
    param: str


def image_refs(req: ChatCompletionRequest, limits: ImageLimits) -> list[ImageRef]:
    """Every image part's URL, in message order, with the place it came from."""
    refs = [
        ImageRef(part.image_url.url, f"messages[{i}].content[{j}].image_url.url")
        for i, message in enumerate(req.messages)
        if isinstance(message.content, list)
        for j, part in enumerate(message.content)
        if isinstance(part, ImagePart)
    ]
    if len(refs) > limits.max_images:
        raise InvalidRequest(
            f"The request has {len(refs)} images; this server accepts at most "
            f"{limits.max_images} per request.",
            param="messages",
            code="too_many_images",
        )
    return refs


def _remote(ref: ImageRef, limits: ImageLimits) -> str:
    """The URL if it is one this server may fetch; else a 400 that says what to send."""
    parts = urlsplit(ref.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequest(
            "An image_url must be a data URL (data:image/png;base64,...) or, where the "
            "operator allows it, an http(s) URL.",
            param=ref.param,
            code="invalid_image_url",
        )
    if not limits.allow_remote:
        raise InvalidRequest(
            "This server does not fetch images from URLs: send the image inline as a data "
            "URL (data:image/png;base64,...), or ask the operator to enable "
            "allow_remote_images.",
            param=ref.param,
            code="remote_images_disabled",
        )
    return ref.url


def _too_large(size: int, limits: ImageLimits, param: str) -> RequestTooLarge:
    return RequestTooLarge(
        f"The image at the URL is over {limits.max_bytes / 2**20:.1f} MiB ({size} bytes or "
        "more), the most this server accepts.",
        param=param,
    )


def _check_response(response: httpx.Response, limits: ImageLimits, param: str) -> None:
    if response.status_code != 200:
        raise InvalidRequest(
            f"The image URL answered HTTP {response.status_code}.",
            param=param,
            code="image_fetch_failed",
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(int(declared), limits, param)


def _fetch_failed(exc: Exception, limits: ImageLimits, param: str) -> InvalidRequest:
    import httpx

    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return InvalidRequest(
            f"The image URL did not deliver the image within {limits.remote_timeout_s:g} s.",
            param=param,
            code="image_fetch_timeout",
        )
    return InvalidRequest(
        f"The image URL could not be fetched ({type(exc).__name__}).",
        param=param,
        code="image_fetch_failed",
    )


async def fetch(ref: ImageRef, limits: ImageLimits) -> bytes:
    """The bytes at an http(s) URL, within the time limit (the whole fetch) and byte cap."""
    import httpx

    url = _remote(ref, limits)
    started = time.perf_counter()
    body = bytearray()
    try:
        async with asyncio.timeout(limits.remote_timeout_s):
            async with (
                httpx.AsyncClient(
                    timeout=limits.remote_timeout_s, follow_redirects=True, max_redirects=3
                ) as client,
                client.stream("GET", url, headers=_FETCH_HEADERS) as response,
            ):
                _check_response(response, limits, ref.param)
                async for chunk in response.aiter_bytes(_CHUNK):
                    body += chunk
                    if len(body) > limits.max_bytes:
                        raise _too_large(len(body), limits, ref.param)
    except (TimeoutError, httpx.HTTPError) as exc:
        raise _fetch_failed(exc, limits, ref.param) from exc
    log.info("image_fetched", bytes=len(body), seconds=round(time.perf_counter() - started, 3))
    return bytes(body)


def fetch_blocking(ref: ImageRef, limits: ImageLimits) -> bytes:
    """:func:`fetch` for callers that cannot await (it blocks the calling thread)."""
    import httpx

    url = _remote(ref, limits)
    deadline = time.monotonic() + limits.remote_timeout_s
    body = bytearray()
    try:
        with (
            httpx.Client(
                timeout=limits.remote_timeout_s, follow_redirects=True, max_redirects=3
            ) as client,
            client.stream("GET", url, headers=_FETCH_HEADERS) as response,
        ):
            _check_response(response, limits, ref.param)
            for chunk in response.iter_bytes(_CHUNK):
                body += chunk
                if len(body) > limits.max_bytes:
                    raise _too_large(len(body), limits, ref.param)
                if time.monotonic() > deadline:
                    raise TimeoutError
    except (TimeoutError, httpx.HTTPError) as exc:
        raise _fetch_failed(exc, limits, ref.param) from exc
    return bytes(body)


def _decode_inline(ref: ImageRef, limits: ImageLimits) -> Image.Image:
    return decode_data_url(
        ref.url, max_pixels=limits.max_pixels, max_bytes=limits.max_bytes, param=ref.param
    )


def _decode_bytes(data: bytes, limits: ImageLimits, param: str) -> Image.Image:
    return decode_image(data, max_pixels=limits.max_pixels, max_bytes=limits.max_bytes, param=param)


def prepare_images_blocking(req: ChatCompletionRequest, limits: ImageLimits) -> list[Image.Image]:
    """The request's images, decoded and checked, in message order (blocks while it works)."""
    images: list[Image.Image] = []
    for ref in image_refs(req, limits):
        if ref.url.startswith("data:"):
            images.append(_decode_inline(ref, limits))
        else:
            images.append(_decode_bytes(fetch_blocking(ref, limits), limits, ref.param))
    return images


async def prepare_images(req: ChatCompletionRequest, limits: ImageLimits) -> list[Image.Image]:
    """:func:`prepare_images_blocking` without blocking the event loop: fetches are awaited and
    decoding runs in a worker thread."""
    refs = image_refs(req, limits)
    for ref in refs:
        if not ref.url.startswith("data:"):
            _remote(ref, limits)  # refuse before fetching anything
    images: list[Image.Image] = []
    for ref in refs:
        if ref.url.startswith("data:"):
            images.append(await asyncio.to_thread(_decode_inline, ref, limits))
        else:
            data = await fetch(ref, limits)
            images.append(await asyncio.to_thread(_decode_bytes, data, limits, ref.param))
    return images


def check_caller(spec: ModelSpec, req: ChatCompletionRequest) -> None:
    """The caller's access to the model and priority, checked before any image work, so that
    no one makes this server decode or fetch for a model it may not use (submit checks it
    again)."""
    principal.current().check(
        model=spec.name,
        aliases=spec.aliases,
        priority=effective_priority(req.priority, req.service_tier),
    )


def _sees_images(services: Services, req: ChatCompletionRequest) -> bool:
    """True when the request has images and its model can see them (caller checked)."""
    if not any(m.has_images() for m in req.messages):
        return False
    spec = services.registry.resolve(req.model)
    if "vision" not in services.registry.tasks_of(spec):
        return False  # chat.start answers with the 400 that says so
    check_caller(spec, req)
    return True


async def start_chat(services: Services, req: ChatCompletionRequest, request_id: str) -> Job:
    """chat.start with the images prepared off the event loop."""
    from multai_core.serving import chat

    images = None
    if _sees_images(services, req):
        images = await prepare_images(req, ImageLimits.of(services.config.server))
    return chat.start(services, req, request_id, images=images)


# --- POST /v1/vision ---------------------------------------------------------------------------


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


def _decode_alias_image(image: str | bytes, limits: ImageLimits) -> Image.Image:
    if isinstance(image, bytes):
        return _decode_bytes(image, limits, "image")
    text = image.strip()
    if text.startswith("data:"):
        return decode_data_url(
            text, max_pixels=limits.max_pixels, max_bytes=limits.max_bytes, param="image"
        )
    if (len(text) * 3) // 4 > limits.max_bytes + 3:
        raise RequestTooLarge(
            f"The image is over {limits.max_bytes / 2**20:.1f} MiB, the most this server accepts.",
            param="image",
        )
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            "image must be base64 image data or a data URL (data:image/png;base64,...).",
            param="image",
            code="invalid_image",
        ) from exc
    return _decode_bytes(data, limits, "image")


async def start_alias(
    services: Services, req: VisionRequest, image: str | bytes | None, request_id: str
) -> tuple[Job, ChatCompletionRequest]:
    """Queue a /v1/vision request; returns its job and the chat request it became."""
    from multai_core.serving import chat

    if image is None or not image:
        raise InvalidRequest(
            "image is required: base64 data or a data URL in JSON, or a file in a multipart form.",
            param="image",
        )
    chat_req = chat_request(req)
    check_caller(services.registry.resolve(req.model, kind="vision"), chat_req)
    limits = ImageLimits.of(services.config.server)
    decoded = await asyncio.to_thread(_decode_alias_image, image, limits)
    return chat.start(services, chat_req, request_id, images=[decoded]), chat_req
