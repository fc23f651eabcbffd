"""Which sizes a pipeline accepts: sides that are multiples of 8 (and of the VAE's scale
factor) within the configured bounds, or the configured list."""

from __future__ import annotations

import math

from multai_core.plugin_api import InvalidRequest
from multai_sdxl.options import SdxlOptions, configured_size
from multai_sdxl.pipeline_folder import PipelineFolder


def side_multiple(folder: PipelineFolder) -> int:
    return math.lcm(8, folder.vae_scale_factor)


def default_size(folder: PipelineFolder, options: SdxlOptions) -> tuple[int, int]:
    configured = configured_size(options.default_size)
    if configured is not None:
        return configured
    return folder.native_size, folder.native_size


def check_size(
    size: tuple[int, int], folder: PipelineFolder, options: SdxlOptions, model: str
) -> tuple[int, int]:
    width, height = size
    text = f"{width}x{height}"
    if options.sizes is not None:
        allowed = [s.replace(" ", "") for s in options.sizes]
        if text not in allowed:
            raise InvalidRequest(
                f"size {text} is not available for model '{model}'; use one of: "
                f"{', '.join(allowed)}.",
                param="size",
            )
        return size
    step = side_multiple(folder)
    low, high = options.min_side, options.max_side
    if width % step or height % step or not (low <= width <= high and low <= height <= high):
        native = folder.native_size
        raise InvalidRequest(
            f"size {text} is not accepted by model '{model}': width and height must be "
            f"multiples of {step} between {low} and {high} pixels (its native size is "
            f"{native}x{native}).",
            param="size",
        )
    return size


def generation_size(
    requested: tuple[int, int] | None, folder: PipelineFolder, options: SdxlOptions, model: str
) -> tuple[int, int]:
    size = requested if requested is not None else default_size(folder, options)
    return check_size(size, folder, options, model)


def edit_size(
    requested: tuple[int, int] | None,
    image_size: tuple[int, int],
    folder: PipelineFolder,
    options: SdxlOptions,
    model: str,
) -> tuple[int, int]:
    """The asked size, else the input image's size scaled into the accepted range (same aspect
    ratio, sides rounded down to the multiple)."""
    if requested is not None:
        return check_size(requested, folder, options, model)
    if options.sizes is not None:
        return check_size(default_size(folder, options), folder, options, model)
    width, height = image_size
    step = side_multiple(folder)
    scale = min(1.0, options.max_side / max(width, height))
    scale = max(scale, options.min_side / min(width, height))
    fitted = tuple(
        min(options.max_side, max(options.min_side, int(side * scale) // step * step))
        for side in (width, height)
    )
    return check_size((fitted[0], fitted[1]), folder, options, model)
