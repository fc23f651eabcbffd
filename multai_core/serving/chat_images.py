"""The images of a chat request, prepared before it is queued.

Every image part is checked and decoded here (count, bytes, then each image's pixels and the
request's total read from the headers: a decompression bomb never expands, and 16 huge images
never decode) so that a bad image is a 400 before the request waits for any model; the decoded
pixels travel to the pack as the ImagePart of its message in the engine's ChatTask. An image
comes as a data URL; an http(s) URL is fetched only where the operator enabled
``allow_remote_images`` (a server that fetches URLs for its callers is an SSRF hole), with a
time limit and a byte cap enforced while the body streams in. Fetches are awaited and decoding
runs in the app's bounded decode pool under its server-wide pixel budget (media.decoding), so
the event loop never blocks on an image and concurrent requests cannot decode more than the
operator allows."""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog

from multai_core.config import ServerConfig
from multai_core.media.decoded import DecodedImage, decoded
from multai_core.media.decoding import MediaDecoding
from multai_core.media.image_codec import data_url_bytes, decode_image, probe_image
from multai_core.plugin_api.errors import InvalidRequest, RequestTooLarge
from multai_core.plugin_api.images import from_pil
from multai_core.plugin_api.results import RawImage
from multai_core.protocol.chat import ChatCompletionRequest, ImagePart

if TYPE_CHECKING:
    import httpx

log = structlog.get_logger(__name__)
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
    max_request_pixels: int = ServerConfig().max_request_pixels

    @classmethod
    def of(cls, server: ServerConfig) -> ImageLimits:
        return cls(
            max_bytes=server.max_image_bytes,
            max_pixels=server.max_image_pixels,
            max_images=server.max_images_per_request,
            allow_remote=server.allow_remote_images,
            remote_timeout_s=server.remote_image_timeout_s,
            max_request_pixels=server.max_request_pixels,
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


def decode_bytes(data: bytes, limits: ImageLimits, param: str) -> DecodedImage:
    """Decoded and checked image data as RGB pixels (transparency on white)."""
    image = decode_image(
        data, max_pixels=limits.max_pixels, max_bytes=limits.max_bytes, param=param
    )
    with image:
        return decoded(from_pil(image))


def inline_bytes(url: str, limits: ImageLimits, param: str) -> bytes:
    """The bytes of a ``data:image/...;base64,`` URL (size checked before base64 decoding)."""
    return data_url_bytes(url, max_bytes=limits.max_bytes, param=param)


def _request_pixels(sizes: list[tuple[int, int]], limits: ImageLimits) -> int:
    total = sum(width * height for width, height in sizes)
    if total > limits.max_request_pixels:
        raise InvalidRequest(
            f"The request's {len(sizes)} images have {total} pixels together; this server "
            f"accepts at most {limits.max_request_pixels} per request ([server] "
            "max_request_pixels): send fewer or smaller images.",
            param="messages",
            code="image_too_large",
        )
    return total


async def decode_all(
    files: list[tuple[bytes, str]], limits: ImageLimits, decoding: MediaDecoding
) -> list[RawImage]:
    """``(data, param)`` pairs decoded in the bounded pool, after every header is checked, the
    pixels of all counted (max_request_pixels) and reserved from the server's budget (a 429
    while it is taken). Each image returns its pixels to the budget when it is dropped."""

    def probe_all() -> list[tuple[int, int]]:
        return [
            probe_image(data, max_pixels=limits.max_pixels, max_bytes=limits.max_bytes, param=p)
            for data, p in files
        ]

    sizes = await decoding.run(probe_all)
    total = _request_pixels(sizes, limits)
    lease = decoding.pixels.reserve(total, param=files[0][1] if len(files) == 1 else "messages")
    images: list[RawImage] = []
    try:
        for (data, param), (width, height) in zip(files, sizes, strict=True):
            image = await decoding.decode(
                functools.partial(decode_bytes, data, limits, param), pixels=width * height
            )
            lease.attach(image, width * height)
            images.append(image)
    finally:
        lease.close()
    return images


async def prepare_images(
    req: ChatCompletionRequest, limits: ImageLimits, decoding: MediaDecoding
) -> list[RawImage]:
    """The request's images, decoded and checked, in message order. Every URL is checked
    before anything is fetched, and every image's header before anything is decoded."""
    refs = image_refs(req, limits)
    for ref in refs:
        if not ref.url.startswith("data:"):
            _remote(ref, limits)
    files: list[tuple[bytes, str]] = []
    for ref in refs:
        if ref.url.startswith("data:"):
            files.append((await decoding.run(inline_bytes, ref.url, limits, ref.param), ref.param))
        else:
            files.append((await fetch(ref, limits), ref.param))
    return await decode_all(files, limits, decoding) if files else []
