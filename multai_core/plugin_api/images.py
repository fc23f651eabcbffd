"""RawImage <-> Pillow image, for packs that hand images to a library working on Pillow images.

Pillow is imported inside the functions, so importing this module costs nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from multai_core.plugin_api.results import PixelMode, RawImage

if TYPE_CHECKING:
    from PIL import Image


def to_pil(raw: RawImage) -> Image.Image:
    """A Pillow image of ``raw``'s pixels, in ``raw``'s mode."""
    from PIL import Image

    expected = raw.width * raw.height * len(raw.mode)
    if raw.width <= 0 or raw.height <= 0 or len(raw.pixels) != expected:
        raise ValueError(
            f"raw image {raw.width}x{raw.height} {raw.mode} needs {expected} bytes, "
            f"got {len(raw.pixels)}"
        )
    return Image.frombytes(raw.mode, (raw.width, raw.height), raw.pixels)


def from_pil(image: Image.Image, mode: PixelMode = "RGB") -> RawImage:
    """The pixels of ``image`` converted to ``mode`` (transparency composited on white for
    RGB)."""
    if mode == "RGB" and image.mode in ("RGBA", "LA", "P", "PA"):
        from PIL import Image as PILImage

        rgba = image.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        converted = PILImage.alpha_composite(background, rgba).convert("RGB")
    else:
        converted = image.convert(mode)
    return RawImage(
        width=converted.width, height=converted.height, mode=mode, pixels=converted.tobytes()
    )
