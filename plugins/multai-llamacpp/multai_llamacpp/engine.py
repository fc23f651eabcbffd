"""The token loop: evaluate the prompt (reusing the cached prefix), then sample one token at
a time until end-of-generation, the token limit, or cancellation."""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass

from multai_core.results import TokenLogprob
from multai_llamacpp.handle import LlamaHandle
from multai_llamacpp.logprobs import PieceCache, last_logits, log_softmax, token_logprob
from multai_llamacpp.sampling import Sampler


@dataclass(frozen=True)
class Step:
    token: int
    piece: bytes
    eog: bool
    logprob: TokenLogprob | None = None


def _common_prefix(cached: list[int], prompt: list[int]) -> int:
    n = 0
    for a, b in zip(cached, prompt, strict=False):
        if a != b:
            break
        n += 1
    return n


def _prepare_cache(handle: LlamaHandle, prompt: list[int]) -> list[int]:
    """Drop what differs from the cached tokens; return the prompt tokens still to evaluate
    (at least one, so that fresh logits exist for the first sample)."""
    import llama_cpp as lib

    llama = handle.llama
    cached = [int(t) for t in llama.input_ids[: llama.n_tokens]]
    reuse = min(_common_prefix(cached, prompt), len(prompt) - 1)
    memory = lib.llama_get_memory(llama.ctx)
    if reuse > 0 and memory and lib.llama_memory_seq_rm(memory, -1, reuse, -1):
        llama.n_tokens = reuse
        return prompt[reuse:]
    llama.n_tokens = 0
    if memory:
        lib.llama_memory_clear(memory, True)
    return prompt


class ThreadOverride:
    """Per-request thread count, clamped to the model's configured maximum."""

    def __init__(self, handle: LlamaHandle, requested: int | None) -> None:
        self._handle = handle
        self._active = requested is not None and requested < handle.n_threads

        if self._active and requested is not None:
            import llama_cpp as lib

            n = max(1, requested)
            lib.llama_set_n_threads(handle.llama.ctx, n, min(n, handle.n_threads_batch))

    def restore(self) -> None:
        if self._active:
            import llama_cpp as lib

            h = self._handle
            lib.llama_set_n_threads(h.llama.ctx, h.n_threads, h.n_threads_batch)
            self._active = False


def generate(
    handle: LlamaHandle,
    prompt: list[int],
    sampler: Sampler,
    *,
    max_new_tokens: int,
    cancel: threading.Event,
    top_logprobs: int | None = None,
    pieces: PieceCache | None = None,
) -> Generator[Step, None, None]:
    """Yield sampled tokens. The caller holds ``handle.lock`` and owns ``sampler``.

    ``top_logprobs`` None means no logprobs; 0 means the chosen token's only."""
    import llama_cpp as lib

    llama = handle.llama
    vocab = lib.llama_model_get_vocab(llama.model)
    if pieces is None and top_logprobs is not None:
        pieces = PieceCache(llama)
    pending = _prepare_cache(handle, prompt)
    n_batch = max(1, int(llama.n_batch))
    for start in range(0, len(pending), n_batch):
        if cancel.is_set():
            return
        llama.eval(pending[start : start + n_batch])
    previous: int | None = None
    for _ in range(max_new_tokens):
        if cancel.is_set():
            return
        if previous is not None:
            llama.eval([previous])
        lp = None
        logprobs = log_softmax(last_logits(llama)) if top_logprobs is not None else None
        token = sampler.sample(llama.ctx)
        eog = bool(lib.llama_vocab_is_eog(vocab, token))
        piece = b"" if eog else bytes(llama.detokenize([token]))
        if logprobs is not None and pieces is not None and not eog:
            lp = token_logprob(logprobs, token, piece, top_logprobs or 0, pieces)
        yield Step(token=token, piece=piece, eog=eog, logprob=lp)
        if eog:
            return
        previous = token
