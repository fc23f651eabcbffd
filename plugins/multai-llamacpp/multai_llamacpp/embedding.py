"""Embeddings: one pooled, L2-normalised vector per input."""

from __future__ import annotations

import numpy as np

from multai_core.plugin_api import (
    EmbeddingResult,
    EmbeddingTask,
    InvalidRequest,
    ServiceUnavailable,
)
from multai_llamacpp.completion import check_token_ids
from multai_llamacpp.handle import LlamaHandle


def _inputs_as_tokens(handle: LlamaHandle, req: EmbeddingTask, limit: int) -> list[list[int]]:
    import llama_cpp as lib

    vocab = lib.llama_model_get_vocab(handle.llama.model)
    add_bos = bool(lib.llama_vocab_get_add_bos(vocab))
    result: list[list[int]] = []
    for i, item in enumerate(req.inputs):
        if isinstance(item, str):
            if not item:
                raise InvalidRequest(f"input[{i}] is an empty string", param="input")
            tokens = [int(t) for t in handle.llama.tokenize(item.encode("utf-8"), add_bos, False)]
            if not tokens:  # e.g. only control characters, which some tokenizers drop
                raise InvalidRequest(
                    f"input[{i}] gives no tokens for this model: it holds only characters "
                    "its tokenizer drops",
                    param="input",
                )
        else:
            tokens = [int(t) for t in item if isinstance(t, int)]
            if not tokens:
                raise InvalidRequest(f"input[{i}] is an empty token array", param="input")
            check_token_ids(tokens, handle.n_vocab, "input")
        if len(tokens) > limit:
            raise InvalidRequest(
                f"This model's maximum embedding input length is {limit} tokens. However, "
                f"input[{i}] has {len(tokens)} tokens.",
                param="input",
                code="context_length_exceeded",
            )
        result.append(tokens)
    return result


def _output_size(handle: LlamaHandle, n_embd: int, dimensions: int | None) -> int:
    if dimensions is None or dimensions == n_embd:
        return n_embd
    if handle.options.matryoshka and dimensions < n_embd:
        return dimensions
    raise InvalidRequest(
        f"this model gives {n_embd}-dimensional embeddings; dimensions={dimensions} is not "
        "available (only Matryoshka-trained models can be shortened)",
        param="dimensions",
    )


def run_embedding(handle: LlamaHandle, req: EmbeddingTask) -> EmbeddingResult:
    if handle.closed:
        raise ServiceUnavailable("the model was unloaded")
    limit = max(1, min(handle.options.embedding_n_ctx, handle.n_ctx))
    n_embd = int(handle.llama.n_embd())
    size = _output_size(handle, n_embd, req.dimensions)
    sequences = _inputs_as_tokens(handle, req, limit)
    vectors: list[list[float]] = []
    with handle.lock:
        context = handle.get_embedding_context()
        for tokens in sequences:
            vector = context.embed(tokens)[:size]
            norm = float(np.linalg.norm(vector))
            if norm > 0.0:
                vector = vector / norm
            vectors.append([float(x) for x in vector])
    return EmbeddingResult(vectors=vectors, prompt_tokens=sum(len(s) for s in sequences))
