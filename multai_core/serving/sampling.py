"""The sampling fields chat and legacy completions share -> the engine's SamplingParams."""

from __future__ import annotations

from typing import Protocol

from multai_core.plugin_api.errors import InvalidRequest
from multai_core.plugin_api.task_text import SamplingParams


class SamplingFields(Protocol):
    @property
    def temperature(self) -> float | None: ...
    @property
    def top_p(self) -> float | None: ...
    @property
    def top_k(self) -> int | None: ...
    @property
    def min_p(self) -> float | None: ...
    @property
    def presence_penalty(self) -> float | None: ...
    @property
    def frequency_penalty(self) -> float | None: ...
    @property
    def repeat_penalty(self) -> float | None: ...
    @property
    def seed(self) -> int | None: ...
    @property
    def logit_bias(self) -> dict[str, float] | None: ...


def logit_bias(raw: dict[str, float] | None) -> dict[int, float]:
    """OpenAI's logit_bias (token id strings) as token ids. Whether an id is in the model's
    vocabulary is the pack's check (:meth:`SamplingParams.check_vocabulary`)."""
    bias: dict[int, float] = {}
    for key, value in (raw or {}).items():
        try:
            token = int(key)
        except ValueError:
            raise InvalidRequest(
                f"logit_bias keys must be token ids, got {key!r}", param="logit_bias"
            ) from None
        if not -100.0 <= value <= 100.0:
            raise InvalidRequest("logit_bias values must be in [-100, 100]", param="logit_bias")
        bias[token] = float(value)
    return bias


def sampling_params(req: SamplingFields) -> SamplingParams:
    return SamplingParams(
        temperature=req.temperature,
        top_p=req.top_p,
        top_k=req.top_k,
        min_p=req.min_p,
        presence_penalty=req.presence_penalty,
        frequency_penalty=req.frequency_penalty,
        repeat_penalty=req.repeat_penalty,
        logit_bias=logit_bias(req.logit_bias),
        seed=req.seed,
    )
