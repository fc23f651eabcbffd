from __future__ import annotations

import pytest
from conftest import run, start

from multai_core.plugin_api import InvalidRequest


def test_string_prompt(pm, handle):
    out = run(pm, handle, "completion", {"prompt": "The capital of France is", "temperature": 0})
    assert "Paris" in out.text
    assert out.usage is not None
    assert out.usage.completion_tokens <= 16  # OpenAI's default max_tokens


def test_echo_and_stop(pm, handle):
    body = {
        "prompt": "The capital of France is",
        "temperature": 0,
        "max_tokens": 10,
        "echo": True,
        "stop": ["."],
    }
    out = run(pm, handle, "completion", body)
    assert out.text.startswith("The capital of France is")
    assert "Paris" in out.text
    assert not out.text.endswith(".")
    assert out.finish == {0: "stop"}


def test_token_array_prompt_matches_string_prompt(pm, handle):
    text = "The capital of France is"
    tokens = [int(t) for t in handle.llama.tokenize(text.encode(), False, True)]
    by_text = run(pm, handle, "completion", {"prompt": text, "temperature": 0, "max_tokens": 6})
    by_tokens = run(pm, handle, "completion", {"prompt": tokens, "temperature": 0, "max_tokens": 6})
    assert by_tokens.text == by_text.text
    assert by_tokens.usage is not None
    assert by_tokens.usage.prompt_tokens == len(tokens)


def test_several_prompts_give_several_choices(pm, handle):
    body = {
        "prompt": ["The capital of France is", "One, two, three,"],
        "temperature": 0,
        "max_tokens": 4,
        "n": 2,
    }
    out = run(pm, handle, "completion", body)
    assert set(out.finish) == {0, 1, 2, 3}
    assert out.texts[0] == out.texts[1]
    assert out.texts[2] == out.texts[3]
    assert out.texts[0] != out.texts[2]


def test_logprobs_int(pm, handle):
    body = {"prompt": "One, two, three,", "temperature": 0, "max_tokens": 5, "logprobs": 2}
    out = run(pm, handle, "completion", body)
    entries = out.logprobs[0]
    assert len(entries) == 5
    assert "".join(e.token for e in entries) == out.text
    assert all(len(e.top_logprobs) == 2 for e in entries)


def test_max_tokens_zero_with_echo_returns_the_prompt(pm, handle):
    body = {"prompt": "Hello there", "max_tokens": 0, "echo": True}
    out = run(pm, handle, "completion", body)
    assert out.text == "Hello there"
    assert out.finish == {0: "length"}
    assert out.usage is not None
    assert out.usage.completion_tokens == 0


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"prompt": "x" * 1, "suffix": "end"}, "suffix", None),
        ({"prompt": [1, 2, 10**7]}, "prompt", None),
        ({"prompt": "hi", "best_of": 3}, "best_of", None),
        ({"prompt": "hi", "echo": True, "logprobs": 1}, "echo", None),
        ({"prompt": "word " * 5000}, "prompt", "context_length_exceeded"),
    ],
)
def test_refusals_come_before_any_delta(pm, handle, body, param, code):
    iterator = start(pm, handle, "completion", body)
    with pytest.raises(InvalidRequest) as info:
        next(iterator)
    assert info.value.param == param
    assert info.value.code == code
