"""Steps, guidance and seeds for one request, from the request and the model's defaults."""

from __future__ import annotations

import secrets

from multai_core.plugin_api import InvalidRequest
from multai_core.protocol.images import _ImageParams
from multai_sdxl.options import SdxlOptions

SEED_SPACE = 2**63


def steps(req: _ImageParams, options: SdxlOptions) -> int:
    count = req.steps()
    if count is None:
        return options.default_steps
    if count > options.max_steps:
        raise InvalidRequest(
            f"num_inference_steps {count} is over this model's limit of {options.max_steps}.",
            param="num_inference_steps",
        )
    return count


def guidance(req: _ImageParams, options: SdxlOptions) -> float:
    return options.default_guidance_scale if req.guidance_scale is None else req.guidance_scale


def seeds(req: _ImageParams) -> list[int]:
    """One seed per image: ``seed``, ``seed + 1``, ... so that image i of a request depends on
    its own seed only (the same seed gives the same first image whatever n is)."""
    base = secrets.randbelow(SEED_SPACE) if req.seed is None else req.seed
    return [(base + i) % SEED_SPACE for i in range(req.count())]
