"""A llama.cpp sampler chain built from one request's sampling settings."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from multai_core.plugin_api import InvalidRequest

if TYPE_CHECKING:
    import llama_cpp


@dataclass(frozen=True)
class SamplingConfig:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 40
    min_p: float = 0.05
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repeat_penalty: float = 1.0
    """1.0 is off. OpenAI has no repeat penalty; llama-cpp-python's own default is 1.1."""
    penalty_last_n: int = 64
    seed: int = 0
    logit_bias: dict[int, float] = field(default_factory=dict)
    grammar: str | None = None


def parse_logit_bias(raw: dict[str, float] | None, n_vocab: int) -> dict[int, float]:
    if not raw:
        return {}
    bias: dict[int, float] = {}
    for key, value in raw.items():
        try:
            token = int(key)
        except ValueError:
            raise InvalidRequest(
                f"logit_bias keys must be token ids, got {key!r}", param="logit_bias"
            ) from None
        if not 0 <= token < n_vocab:
            raise InvalidRequest(
                f"logit_bias token {token} is outside the vocabulary (0..{n_vocab - 1})",
                param="logit_bias",
            )
        if not -100.0 <= value <= 100.0:
            raise InvalidRequest("logit_bias values must be in [-100, 100]", param="logit_bias")
        bias[token] = float(value)
    return bias


def check_grammar(llama: llama_cpp.Llama, grammar: str, param: str) -> None:
    """llama.cpp returns NULL for a grammar it cannot parse; find out before generating."""
    import llama_cpp as lib

    vocab = lib.llama_model_get_vocab(llama.model)
    sampler = lib.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    if not sampler:
        raise InvalidRequest("the schema could not be turned into a grammar", param=param)
    lib.llama_sampler_free(sampler)


class Sampler:
    """Owns a llama_sampler chain: logit bias -> penalties -> grammar -> greedy, or
    top-k -> top-p -> min-p -> temperature -> random draw."""

    def __init__(self, llama: llama_cpp.Llama, config: SamplingConfig) -> None:
        import llama_cpp as lib

        self._lib = lib
        vocab = lib.llama_model_get_vocab(llama.model)
        n_vocab = int(llama.n_vocab())
        params = lib.llama_sampler_chain_default_params()
        self._chain = lib.llama_sampler_chain_init(params)
        add = self._add
        if config.logit_bias:
            items = (lib.llama_logit_bias * len(config.logit_bias))()
            for i, (token, bias) in enumerate(config.logit_bias.items()):
                items[i] = lib.llama_logit_bias(token=token, bias=bias)
            add(lib.llama_sampler_init_logit_bias(n_vocab, len(config.logit_bias), items))
        if (
            config.repeat_penalty != 1.0
            or config.presence_penalty != 0.0
            or config.frequency_penalty != 0.0
        ):
            penalties: tuple[int | float, ...] = (
                config.penalty_last_n,
                config.repeat_penalty,
                config.frequency_penalty,
                config.presence_penalty,
            )
            # llama-cpp-python's binding takes n_vocab first in some releases, not in others
            if len(getattr(lib.llama_sampler_init_penalties, "argtypes", None) or ()) == 5:
                penalties = (n_vocab, *penalties)
            add(lib.llama_sampler_init_penalties(*penalties))
        if config.grammar is not None:
            grammar = lib.llama_sampler_init_grammar(vocab, config.grammar.encode(), b"root")
            if not grammar:
                self.close()
                raise InvalidRequest("the grammar for this request could not be built")
            add(grammar)
        if config.temperature <= 0.0:
            add(lib.llama_sampler_init_greedy())
        else:
            if config.top_k > 0:
                add(lib.llama_sampler_init_top_k(config.top_k))
            if config.top_p < 1.0:
                add(lib.llama_sampler_init_top_p(config.top_p, 1))
            if config.min_p > 0.0:
                add(lib.llama_sampler_init_min_p(config.min_p, 1))
            add(lib.llama_sampler_init_temp(config.temperature))
            add(lib.llama_sampler_init_dist(config.seed & 0xFFFFFFFF))

    def _add(self, sampler: ctypes.c_void_p | None) -> None:
        if not sampler:
            raise RuntimeError("llama.cpp could not create a sampler")
        self._lib.llama_sampler_chain_add(self._chain, sampler)

    def sample(self, ctx: Any, index: int = -1) -> int:
        """Sample from batch position ``index`` of the last decode and accept the token into
        the chain."""
        return int(self._lib.llama_sampler_sample(self._chain, ctx, index))

    def close(self) -> None:
        if self._chain:
            self._lib.llama_sampler_free(self._chain)
            self._chain = None
