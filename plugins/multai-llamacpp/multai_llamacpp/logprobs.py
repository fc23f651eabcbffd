"""Log-probabilities of the model's next-token distribution (before sampling filters)."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from multai_core.plugin_api import TokenLogprob, TopLogprob

if TYPE_CHECKING:
    import llama_cpp


def logits_at(ctx: Any, index: int, n_vocab: int) -> npt.NDArray[np.float32]:
    """A copy of the logits of batch position ``index`` of the last decode."""
    import llama_cpp as lib

    ptr = lib.llama_get_logits_ith(ctx, index)
    if not ptr:
        raise RuntimeError(f"llama.cpp returned no logits for batch position {index}")
    array = np.ctypeslib.as_array(
        ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(n_vocab,)
    )
    return np.array(array, dtype=np.float32, copy=True)


def log_softmax(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    shifted = logits - np.max(logits)
    result: npt.NDArray[np.float32] = shifted - np.log(np.sum(np.exp(shifted)))
    return result


class PieceCache:
    """Token id -> bytes, for the handful of top-logprob candidates of each step."""

    def __init__(self, llama: llama_cpp.Llama) -> None:
        self._llama = llama
        self._cache: dict[int, bytes] = {}

    def piece(self, token: int) -> bytes:
        found = self._cache.get(token)
        if found is None:
            found = bytes(self._llama.detokenize([token]))
            if len(self._cache) < 65536:
                self._cache[token] = found
        return found


def token_logprob(
    logprobs: npt.NDArray[np.float32], token: int, piece: bytes, n_top: int, pieces: PieceCache
) -> TokenLogprob:
    top: list[TopLogprob] = []
    if n_top > 0:
        n_top = min(n_top, logprobs.shape[0])
        candidates = np.argpartition(-logprobs, n_top - 1)[:n_top]
        ordered = candidates[np.argsort(-logprobs[candidates], kind="stable")]
        for tid in ordered.tolist():
            raw = pieces.piece(int(tid))
            top.append(
                TopLogprob(
                    token=raw.decode("utf-8", errors="replace"),
                    logprob=float(logprobs[tid]),
                    bytes=list(raw),
                )
            )
    return TokenLogprob(
        token=piece.decode("utf-8", errors="replace"),
        logprob=float(logprobs[token]),
        bytes=list(piece),
        top_logprobs=top,
    )
