"""A second llama.cpp context on the same model weights, made for pooled embeddings."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from multai_llamacpp.handle import LlamaHandle

_POOLING = {"mean": 1, "cls": 2, "last": 3}  # llama_pooling_type values


class EmbeddingContext:
    def __init__(self, handle: LlamaHandle) -> None:
        import llama_cpp as lib

        self._lib = lib
        options = handle.options
        self.n_ctx = max(1, min(options.embedding_n_ctx, handle.n_ctx))
        params = lib.llama_context_default_params()
        params.n_ctx = self.n_ctx
        params.n_batch = self.n_ctx
        params.n_ubatch = self.n_ctx  # a pooled sequence must fit one micro-batch
        params.n_seq_max = 1
        params.n_threads = handle.n_threads
        params.n_threads_batch = handle.n_threads_batch
        params.embeddings = True
        params.pooling_type = self._pooling_type(handle)
        params.flash_attn_type = (
            lib.LLAMA_FLASH_ATTN_TYPE_ENABLED
            if options.flash_attn
            else lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        params.no_perf = True
        ctx = lib.llama_init_from_model(handle.llama.model, params)
        if not ctx:
            raise RuntimeError("llama.cpp could not create the embedding context")
        self._ctx = ctx
        self._batch = lib.llama_batch_init(self.n_ctx, 0, 1)
        self.n_embd = int(lib.llama_model_n_embd(handle.llama.model))

    @staticmethod
    def _pooling_type(handle: LlamaHandle) -> int:
        choice = handle.options.embedding_pooling
        if choice != "auto":
            return _POOLING[choice]
        declared = handle.llama.metadata.get(
            f"{handle.llama.metadata.get('general.architecture', '')}.pooling_type"
        )
        if declared is not None and declared.isdigit() and int(declared) > 0:
            return int(declared)
        return _POOLING["mean"]

    def embed(self, tokens: list[int]) -> npt.NDArray[np.float32]:
        """One pooled vector (not normalised) for a sequence of at most ``n_ctx`` tokens."""
        lib = self._lib
        memory = lib.llama_get_memory(self._ctx)
        if memory:
            lib.llama_memory_clear(memory, True)
        batch = self._batch
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = True
        batch.n_tokens = len(tokens)
        status = lib.llama_decode(self._ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode failed for an embedding (status {status})")
        ptr = lib.llama_get_embeddings_seq(self._ctx, 0)
        if not ptr:
            raise RuntimeError("llama.cpp returned no pooled embedding")
        array = np.ctypeslib.as_array(
            ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(self.n_embd,)
        )
        return np.array(array, dtype=np.float32, copy=True)

    def close(self) -> None:
        if self._ctx:
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self._ctx)
            self._ctx = None
