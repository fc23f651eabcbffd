"""Decoded images -> what a vision processor takes: RGB, transparency on white."""

from __future__ import annotations

from typing import Any


def to_rgb(image: Any) -> Any:
    """``image`` is a Pillow image (decoded and checked by the server before queueing)."""
    from PIL import Image

    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
