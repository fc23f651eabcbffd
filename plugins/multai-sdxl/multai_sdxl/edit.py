"""Image to image and inpainting: POST /v1/images/edits.

OpenAI's mask marks the area to repaint with transparent pixels (alpha 0); diffusers wants a
white-on-black mask, so the alpha channel is inverted.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

from multai_core.plugin_api import ImageEditTask, ImageResult, InvalidRequest, to_pil
from multai_sdxl import params
from multai_sdxl.batching import accepted_kwargs, batch_limit, run_batched
from multai_sdxl.handle import SdxlHandle
from multai_sdxl.sizes import edit_size


def _mask_image(task: ImageEditTask, size: tuple[int, int]) -> Any:
    from PIL import Image, ImageOps

    assert task.mask is not None
    alpha = to_pil(task.mask).getchannel("A")
    repaint = ImageOps.invert(alpha.point(lambda a: 255 if a > 0 else 0))
    return repaint.resize(size, Image.Resampling.NEAREST)


def _steps(task: ImageEditTask, handle: SdxlHandle, strength: float) -> int:
    """diffusers runs int(steps * strength) of the steps: at least one."""
    needed = math.ceil(1 / strength)
    if needed > handle.options.max_steps:
        raise InvalidRequest(
            f"strength {strength} needs at least {needed} steps, more than this model's "
            f"limit of {handle.options.max_steps}; use a larger strength.",
            param="strength",
        )
    return max(params.steps(task, handle.options), needed)


def edit(handle: SdxlHandle, task: ImageEditTask, cancel: threading.Event) -> ImageResult:
    from PIL import Image

    # the pipeline is made first, so a model that cannot edit fails before any work
    pipe = handle.inpainting() if task.mask is not None else handle.image_to_image()
    source = to_pil(task.image)
    width, height = edit_size(
        task.size(), source.size, handle.folder, handle.options, handle.spec.name
    )
    if source.size != (width, height):
        source = source.resize((width, height), Image.Resampling.LANCZOS)
    mask = _mask_image(task, (width, height)) if task.mask is not None else None
    strength = handle.options.default_strength if task.strength is None else task.strength
    steps = _steps(task, handle, strength)
    guidance = params.guidance(task, handle.options)
    seeds = params.seeds(task)

    def call(generators: list[Any], on_step_end: Callable[..., dict[str, Any]]) -> list[Any]:
        extra: dict[str, Any] = {}
        if mask is not None:
            extra = {"mask_image": mask, "width": width, "height": height}
        kwargs = accepted_kwargs(
            pipe,
            handle.spec.name,
            prompt=task.prompt,
            negative_prompt=task.negative_prompt,
            image=source,
            strength=strength,
            num_images_per_prompt=len(generators),
            generator=generators,
            num_inference_steps=steps,
            guidance_scale=guidance,
            callback_on_step_end=on_step_end,
            output_type="pil",
            **extra,
        )
        return list(pipe(**kwargs).images)

    limit = batch_limit(handle, width, height, guidance, len(seeds))
    return run_batched(seeds, limit, cancel, call)
