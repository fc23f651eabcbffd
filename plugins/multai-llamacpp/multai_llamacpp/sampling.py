"""A llama.cpp sampler chain built from one request's sampling settings."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from multai_core.plugin_api import InvalidRequest, Sampling

if TYPE_CHECKING:
    import llama_cpp


@dataclass(frozen=True)
class SamplingConfig:
    """A request's resolved sampling and what only llama.cpp's sampler chain takes."""

    params: Sampling
    penalty_last_n: int = 64
    grammar: str | None = None


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

    def __init__(self, llama: llama_cpp.Llama, config: SamplingConfig, seed: int) -> None:
        import llama_cpp as lib

        params = config.params
        self._lib = lib
        vocab = lib.llama_model_get_vocab(llama.model)
        n_vocab = int(llama.n_vocab())
        self._chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        add = self._add
        if params.logit_bias:
            items = (lib.llama_logit_bias * len(params.logit_bias))()
            for i, (token, bias) in enumerate(params.logit_bias.items()):
                items[i] = lib.llama_logit_bias(token=token, bias=bias)
            add(lib.llama_sampler_init_logit_bias(n_vocab, len(params.logit_bias), items))
        if (
            params.repeat_penalty != 1.0
            or params.presence_penalty != 0.0
            or params.frequency_penalty != 0.0
        ):
            penalties: tuple[int | float, ...] = (
                config.penalty_last_n,
                params.repeat_penalty,
                params.frequency_penalty,
                params.presence_penalty,
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
        if params.greedy:
            add(lib.llama_sampler_init_greedy())
        else:
            if params.top_k > 0:
                add(lib.llama_sampler_init_top_k(params.top_k))
            if params.top_p < 1.0:
                add(lib.llama_sampler_init_top_p(params.top_p, 1))
            if params.min_p > 0.0:
                add(lib.llama_sampler_init_min_p(params.min_p, 1))
            add(lib.llama_sampler_init_temp(params.temperature))
            add(lib.llama_sampler_init_dist(seed & 0xFFFFFFFF))

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
