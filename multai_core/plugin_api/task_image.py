"""Image tasks: generate from a prompt, or edit a given image.

Serving has checked the request: ``n`` is 1 to 10, the size (when given) is within the server's
pixel limit, ``steps`` is at least 1. What a model cannot do (a size it does not accept, more
steps than it allows) is the pack's to refuse with InvalidRequest."""

from __future__ import annotations

import msgspec

from multai_core.plugin_api.results import RawImage


class _ImagePrompt(msgspec.Struct, kw_only=True, frozen=True):
    """The fields both tasks share."""

    prompt: str
    negative_prompt: str | None = None
    n: int = 1
    width: int | None = None
    height: int | None = None
    """Both None: the model's own size."""
    seed: int | None = None
    """The first image's seed; None for random seeds."""
    steps: int | None = None
    """None: the model's default."""
    guidance_scale: float | None = None
    """None: the model's default."""

    def size(self) -> tuple[int, int] | None:
        """(width, height), or None for the model's own size."""
        if self.width is None or self.height is None:
            return None
        return self.width, self.height


# The two are siblings, not parent and child, so `match` on a payload cannot take an edit for
# a generation.
class ImageGenerationTask(_ImagePrompt, kw_only=True, frozen=True):
    def __repr__(self) -> str:
        return f"ImageGenerationTask(n={self.n}, size={self.width}x{self.height})"


class ImageEditTask(_ImagePrompt, kw_only=True, frozen=True):
    image: RawImage
    """RGB, decoded by serving."""
    mask: RawImage | None = None
    """RGBA, the image's size: transparent pixels (alpha 0) mark what to repaint, as in
    OpenAI's API."""
    strength: float | None = None
    """In (0, 1]: how far from the image to move; None for the model's default."""

    def __repr__(self) -> str:
        return (
            f"ImageEditTask(n={self.n}, size={self.width}x{self.height}, "
            f"image={self.image.width}x{self.image.height}, mask={self.mask is not None})"
        )
