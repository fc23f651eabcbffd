"""Text to image: POST /v1/images/generations."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from multai_core.plugin_api import ImageGenerationTask, ImageResult
from multai_sdxl import params
from multai_sdxl.batching import accepted_kwargs, batch_limit, run_batched
from multai_sdxl.handle import SdxlHandle
from multai_sdxl.sizes import generation_size


def generate(handle: SdxlHandle, task: ImageGenerationTask, cancel: threading.Event) -> ImageResult:
    width, height = generation_size(task.size(), handle.folder, handle.options, handle.spec.name)
    steps = params.steps(task, handle.options)
    guidance = params.guidance(task, handle.options)
    seeds = params.seeds(task)

    def call(generators: list[Any], on_step_end: Callable[..., dict[str, Any]]) -> list[Any]:
        kwargs = accepted_kwargs(
            handle.pipe,
            handle.spec.name,
            prompt=task.prompt,
            negative_prompt=task.negative_prompt,
            num_images_per_prompt=len(generators),
            generator=generators,
            width=width,
            height=height,
            num_inference_steps=steps,
            guidance_scale=guidance,
            callback_on_step_end=on_step_end,
            output_type="pil",
        )
        return list(handle.pipe(**kwargs).images)

    limit = batch_limit(handle, width, height, guidance, len(seeds))
    return run_batched(seeds, limit, cancel, call)
