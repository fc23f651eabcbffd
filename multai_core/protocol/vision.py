"""POST /v1/vision: the thesis's one-image endpoint, an alias onto chat completions.

The body is JSON (``image`` as base64 or a ``data:image/...;base64,`` URL) or a multipart form
(``image`` as a file). The response is exactly a chat completion (``ChatCompletion``, or its
chunks when ``stream`` is true), as if the prompt and image had been sent to
/v1/chat/completions as one user message."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from multai_core.protocol.chat import StopSequences, Temperature, TopP
from multai_core.protocol.common import Priority, ServiceTier, StreamOptions


class VisionRequest(msgspec.Struct, kw_only=True):
    """Unknown fields are ignored, as on every endpoint."""

    model: Annotated[str, msgspec.Meta(min_length=1)]
    prompt: str
    image: str | None = None
    """Base64 image data or a data URL. A multipart form sends the image as a file instead."""
    max_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    seed: int | None = None
    stop: StopSequences = None
    detail: Literal["auto", "low", "high"] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    priority: Priority | None = None
    service_tier: ServiceTier | None = None
