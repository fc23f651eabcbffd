"""Pillow-based image decoding and encoding with the server's limits.

Decoding treats every upload as hostile: the byte size is checked before anything is parsed,
the pixel count is read from the header and checked before any pixel is decoded (a
decompression bomb never expands), and only the formats an OpenAI client sends (PNG, JPEG,
WEBP, GIF) are parsed at all. Pillow is imported inside the functions, never at import time.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from typing import TYPE_CHECKING, Literal

from multai_core.plugin_api.errors import InvalidRequest, RequestTooLarge
from multai_core.plugin_api.images import from_pil, to_pil
from multai_core.plugin_api.results import RawImage

if TYPE_CHECKING:
    from PIL import Image

OutputFormat = Literal["png", "jpeg", "webp"]
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
CONTENT_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
}
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^,;]*)*),", re.ASCII)
_MiB = 1024 * 1024

# RawImage <-> Pillow under the core's names; the one copy is public, for packs
to_raw = from_pil
from_raw = to_pil


def _mib(n: int) -> str:
    return f"{n / _MiB:.1f} MiB"


def _open(data: bytes, *, max_pixels: int, max_bytes: int, param: str | None) -> Image.Image:
    """The image opened lazily: format and size read from the header, no pixel decoded."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > max_bytes:
        raise RequestTooLarge(
            f"The image is {_mib(len(data))}; this server accepts images up to "
            f"{_mib(max_bytes)} ([server] max_image_bytes).",
            param=param,
        )
    if not data:
        raise InvalidRequest("The image is empty.", param=param, code="invalid_image")
    try:
        with warnings.catch_warnings():
            # the pixel limit below is ours; Pillow's own bomb warning would only add noise
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise InvalidRequest(
            f"The image has more pixels than this server accepts (at most {max_pixels}, "
            "[server] max_image_pixels).",
            param=param,
            code="image_too_large",
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InvalidRequest(
            "The file is not a supported image: send PNG, JPEG, WEBP or GIF.",
            param=param,
            code="invalid_image",
        ) from exc
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > max_pixels:
        image.close()
        raise InvalidRequest(
            f"The image is {width}x{height} pixels ({width * height} pixels); this server "
            f"accepts at most {max_pixels} pixels per image ([server] max_image_pixels).",
            param=param,
            code="image_too_large",
        )
    return image


def probe_image(
    data: bytes, *, max_pixels: int, max_bytes: int, param: str | None = None
) -> tuple[int, int]:
    """(width, height) from the header, with the checks of :func:`decode_image`, decoding
    nothing: what a request's images will decode to is known before any is decoded."""
    with _open(data, max_pixels=max_pixels, max_bytes=max_bytes, param=param) as image:
        return image.size


def decode_image(
    data: bytes, *, max_pixels: int, max_bytes: int, param: str | None = None
) -> Image.Image:
    """A fully decoded Pillow image (first frame of an animation).

    Raises RequestTooLarge (413) for more than ``max_bytes``, InvalidRequest (400) for data that
    is no PNG, JPEG, WEBP or GIF image, is truncated or corrupt, or has more than ``max_pixels``
    pixels. Error messages name sizes and limits only, never content.
    """
    from PIL import Image

    image = _open(data, max_pixels=max_pixels, max_bytes=max_bytes, param=param)
    try:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        image.load()
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        image.close()
        raise InvalidRequest(
            "The image is truncated or corrupt and cannot be decoded.",
            param=param,
            code="invalid_image",
        ) from exc
    return image


def data_url_bytes(url: str, *, max_bytes: int, param: str | None = None) -> bytes:
    """The bytes of a ``data:image/...;base64,...`` URL, its size checked before decoding."""
    match = _DATA_URL.match(url[:256])
    if match is None or not (match.group("type") or "").startswith("image/"):
        raise InvalidRequest(
            "Expected a data URL of the form 'data:image/<type>;base64,<data>'.",
            param=param,
            code="invalid_image_url",
        )
    if "base64" not in [p.strip().lower() for p in match.group("params").split(";")]:
        raise InvalidRequest(
            "Image data URLs must be base64-encoded (';base64,').",
            param=param,
            code="invalid_image_url",
        )
    # checked before decoding (or even copying), so an oversized upload costs nothing
    size = (len(url) - match.end()) * 3 // 4
    if size > max_bytes + 3:
        raise RequestTooLarge(
            f"The image is about {_mib(size)}; this server accepts images up to "
            f"{_mib(max_bytes)} ([server] max_image_bytes).",
            param=param,
        )
    try:
        return base64.b64decode(url[match.end() :].strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            "The image data URL is not valid base64.", param=param, code="invalid_image_url"
        ) from exc


def decode_data_url(
    url: str, *, max_pixels: int, max_bytes: int, param: str | None = None
) -> Image.Image:
    """Decode ``data:image/...;base64,...`` with the same limits as :func:`decode_image`."""
    data = data_url_bytes(url, max_bytes=max_bytes, param=param)
    return decode_image(data, max_pixels=max_pixels, max_bytes=max_bytes, param=param)


def encode_image(image: Image.Image, output_format: OutputFormat, *, quality: int = 100) -> bytes:
    """PNG (lossless), JPEG or WEBP bytes; ``quality`` (0-100) applies to JPEG and WEBP."""
    buffer = io.BytesIO()
    if output_format == "png":
        image.save(buffer, format="PNG", compress_level=6)
    elif output_format == "jpeg":
        rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
        rgb.save(buffer, format="JPEG", quality=max(1, min(quality, 95)), optimize=True)
    elif output_format == "webp":
        if quality >= 100:
            image.save(buffer, format="WEBP", lossless=True)
        else:
            image.save(buffer, format="WEBP", quality=quality)
    else:
        raise InvalidRequest(
            f"Unsupported output_format {output_format!r}; use png, jpeg or webp.",
            param="output_format",
        )
    return buffer.getvalue()


def encode_raw(raw: RawImage, output_format: OutputFormat, *, quality: int = 100) -> bytes:
    return encode_image(to_pil(raw), output_format, quality=quality)
