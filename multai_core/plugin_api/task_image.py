"""Image tasks: generate from a prompt, or edit a given image."""

from __future__ import annotations

import msgspec

from multai_core.plugin_api.results import RawImage


class ImageGenerationTask(msgspec.Struct, kw_only=True, frozen=True):
    prompt: str
    negative_prompt: str | None = None
    n: int = 1
    width: int | None = None
    height: int | None = None
    """None: the model's own size."""
    seed: int | None = None
    """The first image's seed; None for random seeds."""
    steps: int | None = None
    guidance_scale: float | None = None

    def __repr__(self) -> str:
        return f"ImageGenerationTask(n={self.n}, size={self.width}x{self.height})"


class ImageEditTask(ImageGenerationTask, kw_only=True, frozen=True):
    image: RawImage
    """RGB, decoded by serving."""
    mask: RawImage | None = None
    strength: float | None = None

    def __repr__(self) -> str:
        return f"ImageEditTask(n={self.n}, size={self.width}x{self.height})"
