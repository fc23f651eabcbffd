"""Decoded images that a budget lease can follow: a RawImage that supports weak references, so
that the pixels it reserved return to the budget when the image is dropped."""

from __future__ import annotations

from multai_core.plugin_api.results import RawImage


class DecodedImage(RawImage, kw_only=True, frozen=True, weakref=True):
    """A RawImage (packs see no difference) that a :class:`~multai_core.media.budget.Lease`
    can attach to."""


def decoded(raw: RawImage) -> DecodedImage:
    """``raw`` as a DecodedImage; the pixels are shared, not copied."""
    return DecodedImage(width=raw.width, height=raw.height, mode=raw.mode, pixels=raw.pixels)
