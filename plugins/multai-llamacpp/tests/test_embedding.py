from __future__ import annotations

import numpy as np
import pytest
from conftest import embed, start

from multai_core.plugin_api import InvalidRequest

TEXTS = [
    "The cat sat on the mat.",
    "A cat was sitting on a mat.",
    "Quantum chromodynamics describes the strong interaction between quarks.",
]


def test_one_normalised_vector_per_input_and_similar_texts_closer(pm, handle):
    result = embed(pm, handle, {"input": TEXTS})
    vectors = np.array(result.vectors)
    assert vectors.shape == (3, handle.llama.n_embd())
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2]
    assert similarity[0, 1] > similarity[1, 2]
    assert result.prompt_tokens > 10


def test_single_string_and_token_arrays(pm, handle):
    single = embed(pm, handle, {"input": TEXTS[0]})
    assert len(single.vectors) == 1
    tokens = [int(t) for t in handle.llama.tokenize(TEXTS[0].encode(), False, False)]
    by_tokens = embed(pm, handle, {"input": tokens})
    assert np.allclose(single.vectors[0], by_tokens.vectors[0], atol=1e-5)
    two = embed(pm, handle, {"input": [tokens, tokens[:3]]})
    assert len(two.vectors) == 2
    assert two.prompt_tokens == len(tokens) + 3


def test_dimensions_equal_to_the_model_size_is_fine(pm, handle):
    result = embed(pm, handle, {"input": "hi", "dimensions": handle.llama.n_embd()})
    assert len(result.vectors[0]) == handle.llama.n_embd()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"input": "hi", "dimensions": 64}, None),
        ({"input": [1, 2, 10**7]}, None),
        ({"input": "word " * 2000}, "context_length_exceeded"),
        ({"input": "\u001d"}, None),  # no tokens: llama_decode failed on it (a 500, by fuzzing)
    ],
)
def test_refusals(pm, handle, body, code):
    with pytest.raises(InvalidRequest) as info:
        start(pm, handle, "embedding", body)
    assert info.value.code == code
    assert info.value.param in ("input", "dimensions")
