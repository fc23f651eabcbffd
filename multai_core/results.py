"""What plugins yield or return, per task kind. Serving turns these into OpenAI responses.

Text generation (chat, completion, vision) yields :class:`TextDelta` items, one or more per
generated token, then exactly one :class:`Usage`. Embedding returns :class:`EmbeddingResult`.
"""

from __future__ import annotations

import msgspec

FinishReason = str  # "stop" | "length" | "tool_calls" | "content_filter"


class TopLogprob(msgspec.Struct, kw_only=True):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(msgspec.Struct, kw_only=True):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = msgspec.field(default_factory=list)


class ToolCallDelta(msgspec.Struct, kw_only=True):
    """A piece of one tool call. The first piece of a call carries id and name; later pieces
    append to ``arguments``."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class TextDelta(msgspec.Struct, kw_only=True):
    index: int = 0
    text: str = ""
    tool_calls: list[ToolCallDelta] | None = None
    logprobs: list[TokenLogprob] | None = None
    finish_reason: FinishReason | None = None


class Usage(msgspec.Struct, kw_only=True):
    prompt_tokens: int
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens taken from a cache instead of evaluated (OpenAI's
    ``prompt_tokens_details.cached_tokens``)."""


class EmbeddingResult(msgspec.Struct, kw_only=True):
    vectors: list[list[float]]
    prompt_tokens: int
