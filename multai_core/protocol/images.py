"""POST /v1/images/generations and /v1/images/edits: OpenAI's wire format plus the thesis's
extensions (number_of_images, number_of_steps / num_inference_steps, guidance_scale,
negative_prompt, seed, strength)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from multai_core.plugin_api.results import RawImage
from multai_core.protocol.common import Priority, ServiceTier

ImageCount = Annotated[int, msgspec.Meta(ge=1, le=10, description="How many images: 1 to 10")]
Steps = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Seed = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
ResponseFormat = Literal["url", "b64_json"]
OutputFormat = Literal["png", "jpeg", "webp"]
# The only sizes OpenAI's ImagesResponse.size enum allows; any other size is left out of replies.
RESPONSE_SIZES = frozenset({"1024x1024", "1024x1536", "1536x1024"})


class ImageParams(msgspec.Struct, kw_only=True):
    """What generation and editing share."""

    prompt: Annotated[str, msgspec.Meta(max_length=32000)]
    model: str | None = None
    n: ImageCount | None = None
    number_of_images: ImageCount | None = None
    size: str | None = None
    response_format: ResponseFormat | None = None
    output_format: OutputFormat | None = None
    output_compression: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    background: str | None = None
    quality: str | None = None
    stream: bool | None = None
    user: str | None = None
    seed: Seed | None = None
    number_of_steps: Steps | None = None
    num_inference_steps: Steps | None = None
    guidance_scale: Annotated[float, msgspec.Meta(ge=0.0, le=50.0)] | None = None
    negative_prompt: Annotated[str, msgspec.Meta(max_length=32000)] | None = None
    priority: Priority | None = None
    service_tier: ServiceTier | None = None


class ImageGenerateRequest(ImageParams, kw_only=True):
    style: str | None = None
    moderation: str | None = None


class ImageEditRequest(ImageParams, kw_only=True):
    """A multipart edit request after serving decoded its files: ``image`` (RGB) and ``mask``
    (RGBA; transparent pixels mark what to repaint, as in OpenAI's API)."""

    image: RawImage
    mask: RawImage | None = None
    strength: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)] | None = None
    input_fidelity: str | None = None


class ImageData(msgspec.Struct, kw_only=True, omit_defaults=True):
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


class ImagesResponse(msgspec.Struct, kw_only=True, omit_defaults=True):
    created: int
    data: list[ImageData]
    output_format: OutputFormat | None = None
    size: Literal["1024x1024", "1024x1536", "1536x1024"] | None = None
