"""An image host for tests of remote image URLs: a tiny ASGI app (serve it with
``threaded_server``) whose paths each behave as an image URL can, and small PNGs to send."""

from __future__ import annotations

import asyncio
import io
from typing import Any

CAP = 100_000
"""The byte limit the tests set (``max_image_bytes``): ``/declared-big`` declares ten times it."""


def image_bytes(
    color: tuple[int, int, int], size: tuple[int, int] = (48, 40), fmt: str = "PNG"
) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def image_part(url: str, detail: str | None = None) -> dict[str, object]:
    """A chat content part with an image URL, as a client sends it."""
    image_url: dict[str, object] = {"url": url}
    if detail is not None:
        image_url["detail"] = detail
    return {"type": "image_url", "image_url": image_url}


PNG = image_bytes((200, 200, 10))


async def image_host(scope: dict[str, Any], receive: Any, send: Any) -> None:  # noqa: ARG001
    """``/part.png`` (and ``/health``) serve PNG; ``/moved`` redirects to it;
    ``/declared-big`` declares a body over CAP; ``/endless`` streams with no length; ``/slow``
    answers after 3 s; ``/drip`` sends its first bytes a quarter second apart; else 404."""
    if scope["type"] != "http":
        return
    path = scope["path"]

    async def start(status: int, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers or []})

    async def body(data: bytes, more: bool = False) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": more})

    if path in ("/health", "/part.png"):
        await start(200, [(b"content-type", b"image/png")])
        await body(PNG)
    elif path == "/moved":
        await start(302, [(b"location", b"/part.png")])
        await body(b"")
    elif path == "/declared-big":
        await start(200, [(b"content-length", str(CAP * 10).encode())])
        await body(b"\x00" * 10)  # the header alone must be enough to refuse it
    elif path == "/endless":  # no content-length: the cap must cut the stream
        await start(200)
        for _ in range(40):
            await body(b"\x89" * 8192, more=True)
        await body(b"")
    elif path == "/slow":
        await asyncio.sleep(3)
        await start(200)
        await body(PNG)
    elif path == "/drip":  # each read is quick; the whole fetch is not
        await start(200)
        for byte in PNG[:12]:
            await asyncio.sleep(0.25)
            await body(bytes([byte]), more=True)
        await body(PNG[12:])
    else:
        await start(404)
        await body(b"no")
