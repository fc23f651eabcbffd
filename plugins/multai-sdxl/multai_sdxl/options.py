"""Per-model options (``[[models]] options = {...}``), with SDXL-Turbo's defaults."""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from multai_core.plugin_api import ServiceUnavailable

Switch = Literal["auto", "on", "off"]
_SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX\u00d7]\s*(\d{1,5})\s*$")


class SdxlOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # SDXL-Turbo is distilled for 1-4 steps without classifier-free guidance; for base SDXL use
    # default_steps = 30 and default_guidance_scale = 5.0.
    default_steps: int = 4
    max_steps: int = 100
    default_guidance_scale: float = 0.0
    # image-to-image: how far from the input image to move (1.0 ignores it)
    default_strength: float = 0.5
    default_size: str | None = None
    """WIDTHxHEIGHT when the request names no size; None or "auto": the UNet's native size."""
    sizes: list[str] | None = None
    """If set, the only sizes accepted (e.g. ["512x512", "768x768"])."""
    min_side: int = 64
    max_side: int = 2048
    dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
    """auto: float16 on a GPU, float32 on the CPU."""
    variant: str | None = None
    """Load the weight files of this variant (e.g. "fp16": unet/*.fp16.safetensors)."""
    attention_slicing: Switch = "auto"
    vae_tiling: Switch = "auto"
    """auto: on when the memory the model was given is below what it needs without them."""
    threads: int | None = None
    """torch intra-op threads on the CPU (default: the placement's ``cpu_threads``, else
    torch's choice)."""


def parse_options(raw: dict[str, Any]) -> SdxlOptions:
    try:
        options = msgspec.convert(raw, SdxlOptions, strict=False)
    except msgspec.ValidationError as exc:
        raise ServiceUnavailable(f"Invalid options for the sdxl backend: {exc}") from exc
    if options.default_steps < 1 or options.max_steps < options.default_steps:
        raise ServiceUnavailable("sdxl options: need 1 <= default_steps <= max_steps.")
    if not 0 < options.default_strength <= 1:
        raise ServiceUnavailable("sdxl options: default_strength must be in (0, 1].")
    if options.min_side < 8 or options.max_side < options.min_side:
        raise ServiceUnavailable("sdxl options: need 8 <= min_side <= max_side.")
    configured_size(options.default_size)
    return options


def configured_size(text: str | None) -> tuple[int, int] | None:
    """``default_size`` as (width, height); None for the UNet's native size."""
    if text is None or text.strip().lower() == "auto":
        return None
    match = _SIZE.match(text)
    if match is None or min(int(match.group(1)), int(match.group(2))) < 1:
        raise ServiceUnavailable(
            f"sdxl options: default_size {text[:40]!r} must be WIDTHxHEIGHT in pixels or 'auto'."
        )
    return int(match.group(1)), int(match.group(2))
