"""Steps, guidance and seeds for one task, from the task and the model's defaults."""

from __future__ import annotations

import secrets

from multai_core.plugin_api import ImageEditTask, ImageGenerationTask, InvalidRequest
from multai_sdxl.options import SdxlOptions

SEED_SPACE = 2**63
ImageTask = ImageGenerationTask | ImageEditTask


def steps(task: ImageTask, options: SdxlOptions) -> int:
    if task.steps is None:
        return options.default_steps
    if task.steps > options.max_steps:
        raise InvalidRequest(
            f"num_inference_steps {task.steps} is over this model's limit of {options.max_steps}.",
            param="num_inference_steps",
        )
    return task.steps


def guidance(task: ImageTask, options: SdxlOptions) -> float:
    return options.default_guidance_scale if task.guidance_scale is None else task.guidance_scale


def seeds(task: ImageTask) -> list[int]:
    """One seed per image: ``seed``, ``seed + 1``, ... so that image i of a task depends on
    its own seed only (the same seed gives the same first image whatever n is)."""
    base = secrets.randbelow(SEED_SPACE) if task.seed is None else task.seed
    return [(base + i) % SEED_SPACE for i in range(task.n)]
