"""POST /v1/completions (legacy text completions)."""

from __future__ import annotations

from typing import Annotated, cast

import msgspec

from multai_core.protocol.chat import MAX_TOKENS, Penalty, StopSequences, Temperature, TopP
from multai_core.protocol.common import (
    MinP,
    NGpuLayers,
    NThreads,
    Priority,
    RepeatPenalty,
    ServiceTier,
    StreamOptions,
    TopK,
    Usage,
)

# msgspec allows one array type per union: the list's shape is checked in __post_init__.
Prompt = str | Annotated[list[str | int | list[int]], msgspec.Meta(min_length=1)]


def check_input_list(items: list[str | int | list[int]], field: str) -> None:
    """A list of strings, a token array, or a list of token arrays; not a mix."""
    kinds = {type(item) for item in items}
    if len(kinds) > 1:
        raise ValueError(f"`{field}` must be all strings, all token ids or all token arrays")
    if list in kinds and any(not all(isinstance(t, int) for t in item) for item in items):  # type: ignore[union-attr]
        raise ValueError(f"`{field}` token arrays must hold integers only")


class CompletionRequest(msgspec.Struct, kw_only=True):
    model: Annotated[str, msgspec.Meta(min_length=1)]
    prompt: Prompt
    suffix: str | None = None
    max_tokens: Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)] | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    n: Annotated[int, msgspec.Meta(ge=1, le=128)] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    logprobs: Annotated[int, msgspec.Meta(ge=0, le=5)] | None = None
    echo: bool | None = None
    stop: StopSequences = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    best_of: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None
    logit_bias: dict[str, float] | None = None
    seed: int | None = None
    user: str | None = None
    service_tier: ServiceTier | None = None
    priority: Priority | None = None
    top_k: TopK | None = None
    min_p: MinP | None = None
    repeat_penalty: RepeatPenalty | None = None
    n_threads: NThreads | None = None
    n_gpu_layers: NGpuLayers | None = None

    def __post_init__(self) -> None:
        if isinstance(self.prompt, list):
            check_input_list(self.prompt, "prompt")

    def prompts(self) -> list[str] | list[list[int]]:
        """Every prompt as a list: strings, or token arrays."""
        if isinstance(self.prompt, str):
            return [self.prompt]
        if isinstance(self.prompt[0], int):
            return [cast(list[int], list(self.prompt))]
        return cast(list[str] | list[list[int]], list(self.prompt))

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class CompletionLogprobs(msgspec.Struct, kw_only=True):
    text_offset: list[int]
    token_logprobs: list[float]
    tokens: list[str]
    top_logprobs: list[dict[str, float]]


class CompletionChoice(msgspec.Struct, kw_only=True):
    index: int
    text: str
    logprobs: CompletionLogprobs | None
    finish_reason: str | None


class Completion(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="object", tag="text_completion"
):
    id: str
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
