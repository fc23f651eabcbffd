"""One request's sampling settings -> transformers logits processors, in llama.cpp's order:
logit bias, penalties, then temperature, top-k, top-p and min-p (for sampling only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from multai_core.plugin_api import Sampling, SamplingParams
from multai_llava.options import LlavaOptions

if TYPE_CHECKING:
    import torch


def sampling_for(params: SamplingParams, options: LlavaOptions, n_vocab: int) -> Sampling:
    return params.resolve(n_vocab=n_vocab, top_k=options.top_k, min_p=options.min_p)


def processors(sampling: Sampling, prompt_len: int) -> list[Any]:
    from transformers import (
        MinPLogitsWarper,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    chain: list[Any] = []
    if sampling.logit_bias:
        chain.append(LogitBias(sampling.logit_bias))
    if sampling.repeat_penalty != 1.0 and sampling.repeat_penalty > 0:
        chain.append(RepetitionPenaltyLogitsProcessor(sampling.repeat_penalty))
    if sampling.presence_penalty or sampling.frequency_penalty:
        chain.append(
            PresenceFrequencyPenalty(
                sampling.presence_penalty, sampling.frequency_penalty, prompt_len
            )
        )
    if sampling.greedy:
        return chain
    if sampling.temperature != 1.0:
        chain.append(TemperatureLogitsWarper(sampling.temperature))
    if sampling.top_k > 0:
        chain.append(TopKLogitsWarper(sampling.top_k))
    if sampling.top_p < 1.0:
        chain.append(TopPLogitsWarper(sampling.top_p))
    if sampling.min_p > 0.0:
        chain.append(MinPLogitsWarper(sampling.min_p))
    return chain


class LogitBias:
    """OpenAI's logit_bias: added to the logits of the given token ids."""

    def __init__(self, bias: dict[int, float]) -> None:
        self._ids = list(bias)
        self._values = list(bias.values())

    def __call__(self, _input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        values = torch.tensor(self._values, dtype=scores.dtype, device=scores.device)
        scores[:, self._ids] += values
        return scores


class PresenceFrequencyPenalty:
    """OpenAI's penalties over the generated tokens only: minus ``presence`` for a token that
    appeared, minus ``frequency`` for each time it appeared."""

    def __init__(self, presence: float, frequency: float, prompt_len: int) -> None:
        self._presence = presence
        self._frequency = frequency
        self._prompt_len = prompt_len

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        generated = input_ids[:, self._prompt_len :]
        if generated.shape[1] == 0:
            return scores
        counts = torch.zeros_like(scores)
        counts.scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
        return scores - self._frequency * counts - self._presence * (counts > 0).to(scores.dtype)
