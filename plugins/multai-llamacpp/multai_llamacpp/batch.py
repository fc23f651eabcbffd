"""A llama_batch filled token by token: each token with its position, its sequence id and
whether its logits are wanted."""

from __future__ import annotations

from typing import Any


class TokenBatch:
    def __init__(self, capacity: int) -> None:
        import llama_cpp as lib

        self._lib = lib
        self.capacity = capacity
        self._batch: Any = lib.llama_batch_init(capacity, 0, 1)
        self.n_tokens = 0

    @property
    def raw(self) -> Any:
        self._batch.n_tokens = self.n_tokens
        return self._batch

    def clear(self) -> None:
        self.n_tokens = 0

    def add(self, token: int, pos: int, seq_id: int, logits: bool) -> int:
        """Append a token; returns its index in the batch (where its logits will be)."""
        i = self.n_tokens
        if i >= self.capacity:
            raise RuntimeError("the llama.cpp batch is full")
        batch = self._batch
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq_id
        batch.logits[i] = logits
        self.n_tokens = i + 1
        return i

    def close(self) -> None:
        if self._batch is not None:
            self._lib.llama_batch_free(self._batch)
            self._batch = None
