"""multai_core.serving.chat_images' image preparation (what chat.start uses for a model that
sees images): fetches awaited with the whole-fetch time limit and the streamed byte cap,
decoding in a worker thread, refusals before anything is fetched."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator

import msgspec
import pytest

from multai_core.config import ServerConfig
from multai_core.media.decoding import MediaDecoding
from multai_core.plugin_api import InvalidRequest, MultaiError, RequestTooLarge
from multai_core.protocol.chat import ChatCompletionRequest
from multai_core.serving.chat_images import ImageLimits, prepare_images
from multai_core.testing.image_host import CAP, PNG, image_host, image_part
from multai_core.testing.server import threaded_server

LIMITS = ImageLimits(
    max_bytes=CAP, max_pixels=1_000_000, max_images=4, allow_remote=True, remote_timeout_s=1.0
)
INLINE = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
_SERVER = ServerConfig()
DECODING = MediaDecoding(
    threads=1,
    max_pixels_in_flight=_SERVER.max_decode_pixels_in_flight,
    max_audio_seconds_in_flight=_SERVER.max_audio_seconds_in_flight,
)


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    with threaded_server(image_host) as base_url:
        yield base_url


def request(*urls: str) -> ChatCompletionRequest:
    content = [{"type": "text", "text": "?"}, *(image_part(u) for u in urls)]
    return msgspec.convert(
        {"model": "m", "messages": [{"role": "user", "content": content}]}, ChatCompletionRequest
    )


def test_inline_and_fetched_images_in_message_order(host: str) -> None:
    images = asyncio.run(prepare_images(request(INLINE, f"{host}/part.png"), LIMITS, DECODING))
    assert [(im.width, im.height, im.mode) for im in images] == [(48, 40, "RGB")] * 2
    assert images[0].pixels == images[1].pixels


@pytest.mark.parametrize(
    ("path", "error", "code"),
    [
        ("/endless", RequestTooLarge, "request_too_large"),
        ("/declared-big", RequestTooLarge, "request_too_large"),
        ("/drip", InvalidRequest, "image_fetch_timeout"),
        ("/slow", InvalidRequest, "image_fetch_timeout"),
        ("/missing", InvalidRequest, "image_fetch_failed"),
    ],
)
def test_fetch_limits(host: str, path: str, error: type[MultaiError], code: str) -> None:
    started = asyncio.run(_timed(prepare_images(request(f"{host}{path}"), LIMITS, DECODING)))
    assert isinstance(started[0], error)
    assert started[0].code == code
    assert started[1] < LIMITS.remote_timeout_s + 1.0


def test_refused_before_any_fetch(host: str) -> None:
    off = ImageLimits(**{**LIMITS.__dict__, "allow_remote": False})
    # the slow URL would take 3 s: a refusal that fetched first would be slow too
    result, seconds = asyncio.run(
        _timed(prepare_images(request(f"{host}/slow", "file:///etc/passwd"), LIMITS, DECODING))
    )
    assert isinstance(result, InvalidRequest) and result.code == "invalid_image_url"
    assert seconds < 0.5
    result, seconds = asyncio.run(_timed(prepare_images(request(f"{host}/slow"), off, DECODING)))
    assert isinstance(result, InvalidRequest) and result.code == "remote_images_disabled"
    assert seconds < 0.5


async def _timed(work: object) -> tuple[object, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        result: object = await work  # type: ignore[misc]
    except MultaiError as exc:
        result = exc
    return result, loop.time() - started
