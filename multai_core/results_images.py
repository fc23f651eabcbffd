"""What image plugins return, and the decoded images they are handed.

Image generation and editing return one :class:`ImageResult`: raw pixels, one
:class:`RawImage` per generated image, in the order of the request's seeds. Serving encodes them
(png, jpeg or webp) off the event loop, so a plugin never deals with output formats.
"""

from __future__ import annotations

from typing import Literal

import msgspec

PixelMode = Literal["RGB", "RGBA", "L"]


class RawImage(msgspec.Struct, kw_only=True, frozen=True):
    """Uncompressed pixels, row-major, 8 bits per channel (Pillow's ``Image.tobytes()``)."""

    width: int
    height: int
    mode: PixelMode
    pixels: bytes


class ImageResult(msgspec.Struct, kw_only=True):
    """The images of one generation or edit request. ``seeds`` holds the seed each image was
    made from (reproduce one image by sending its seed)."""

    images: list[RawImage]
    seeds: list[int] = msgspec.field(default_factory=list)
