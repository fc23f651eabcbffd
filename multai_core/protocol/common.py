"""Wire types used by more than one endpoint group."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Priority = Annotated[
    int,
    msgspec.Meta(
        ge=0, le=2, description="MultAI scheduling priority: 0 urgent, 1 default, 2 background"
    ),
]

# MultAI's extensions to the sampling and placement fields, one bound each for every endpoint
TopK = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
MinP = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
RepeatPenalty = Annotated[float, msgspec.Meta(ge=0.0, le=100.0)]
NThreads = Annotated[int, msgspec.Meta(ge=1, le=1024)]
NGpuLayers = Annotated[int, msgspec.Meta(ge=-1, le=100_000)]
ServiceTier = Literal["auto", "default", "flex", "scale", "priority"]


class PromptTokensDetails(msgspec.Struct, kw_only=True):
    cached_tokens: int = 0


class Usage(msgspec.Struct, kw_only=True, omit_defaults=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | None = None


class StreamOptions(msgspec.Struct, kw_only=True):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class ErrorDetail(msgspec.Struct, kw_only=True):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(msgspec.Struct, kw_only=True):
    error: ErrorDetail


def effective_priority(priority: int | None, service_tier: str | None) -> int:
    """An explicit priority wins; else OpenAI's service_tier maps priority->0, flex->2."""
    if priority is not None:
        return priority
    if service_tier == "priority":
        return 0
    if service_tier == "flex":
        return 2
    return 1
