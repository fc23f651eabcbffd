"""Image requests on the wire -> engine tasks: the wire's aliases resolved (``n`` /
``number_of_images``, ``number_of_steps`` / ``num_inference_steps``), ``size`` parsed once, and
what the server refuses for every model refused here, before any job exists."""

from __future__ import annotations

import re

import msgspec

from multai_core.plugin_api.errors import InvalidRequest
from multai_core.plugin_api.task_image import ImageEditTask, ImageGenerationTask
from multai_core.protocol.images import ImageEditRequest, ImageParams

_SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX\u00d7]\s*(\d{1,5})\s*$")  # x, X or the sign


def parse_size(size: str | None) -> tuple[int, int] | None:
    """(width, height), or None for the model's default (``size`` absent or "auto")."""
    if size is None or size.strip().lower() == "auto":
        return None
    match = _SIZE.match(size)
    if match is None:
        raise InvalidRequest(
            f"Invalid size {size[:40]!r}: use WIDTHxHEIGHT in pixels (e.g. '512x512') or 'auto'.",
            param="size",
        )
    width, height = int(match.group(1)), int(match.group(2))
    if width < 1 or height < 1:
        raise InvalidRequest("size must have a width and a height of at least 1.", param="size")
    return width, height


def image_count(req: ImageParams) -> int:
    """``n``, or its alias ``number_of_images``; 1 when neither is given."""
    if req.n is not None and req.number_of_images is not None and req.n != req.number_of_images:
        raise InvalidRequest(
            "n and number_of_images are the same setting; send one of them.", param="n"
        )
    return req.n or req.number_of_images or 1


def step_count(req: ImageParams) -> int | None:
    """``number_of_steps`` or ``num_inference_steps``; None for the model's default."""
    a, b = req.number_of_steps, req.num_inference_steps
    if a is not None and b is not None and a != b:
        raise InvalidRequest(
            "number_of_steps and num_inference_steps are the same setting; send one.",
            param="num_inference_steps",
        )
    return a if a is not None else b


def generation_task(req: ImageParams, *, max_pixels: int) -> ImageGenerationTask:
    if not req.prompt.strip():
        raise InvalidRequest("prompt must not be empty: describe the image.", param="prompt")
    n = image_count(req)
    steps = step_count(req)
    size = parse_size(req.size)
    if size is not None and size[0] * size[1] > max_pixels:
        raise InvalidRequest(
            f"size {size[0]}x{size[1]} is over this server's limit of {max_pixels} pixels per "
            "image.",
            param="size",
        )
    if req.stream:
        raise InvalidRequest(
            "Streaming image generation is not supported; leave out `stream`.", param="stream"
        )
    if req.background == "transparent":
        raise InvalidRequest(
            "Transparent backgrounds are not supported by this server's image models; use "
            "'opaque' or 'auto'.",
            param="background",
        )
    width, height = size if size is not None else (None, None)
    return ImageGenerationTask(
        prompt=req.prompt,
        negative_prompt=req.negative_prompt,
        n=n,
        width=width,
        height=height,
        seed=req.seed,
        steps=steps,
        guidance_scale=req.guidance_scale,
    )


def edit_task(req: ImageEditRequest, *, max_pixels: int) -> ImageEditTask:
    shared = msgspec.structs.asdict(generation_task(req, max_pixels=max_pixels))
    return ImageEditTask(**shared, image=req.image, mask=req.mask, strength=req.strength)
