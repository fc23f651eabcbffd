"""Chat completions with image content parts through the official SDK against `multai serve`
running the tiny LLaVA: one and two images, streamed and not, sampling parameters."""

from __future__ import annotations

import pytest
from conftest import BLUE, MODEL, NO_EOS, RED, data_url
from openai import OpenAI

from multai_core.testing.image_host import image_bytes, image_part
from multai_core.testing.openai_spec import validate


def ask(text: str, *images: dict[str, object]) -> list[dict[str, object]]:
    return [{"role": "user", "content": [{"type": "text", "text": text}, *images]}]


def _prompt_tokens(client: OpenAI, *images: dict[str, object]) -> int:
    response = client.chat.completions.create(
        model=MODEL, messages=ask("What is on the part?", *images), max_tokens=1
    )
    assert response.usage is not None
    return response.usage.prompt_tokens


def test_one_image_not_streamed_matches_spec(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=ask("Is this part scratched?", image_part(RED)),
        max_tokens=8,
        temperature=0,
        logit_bias=NO_EOS,
    )
    validate("CreateChatCompletionResponse", response.model_dump(mode="json", exclude_unset=True))
    choice = response.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert response.usage is not None and response.usage.completion_tokens == 8
    assert response.model == MODEL


def test_each_image_adds_its_tokens_to_the_prompt(client: OpenAI) -> None:
    text_only = _prompt_tokens(client)
    one = _prompt_tokens(client, image_part(RED))
    two = _prompt_tokens(client, image_part(RED), image_part(BLUE))
    # 32x32 pixels in 8x8 patches plus one class token, for every image
    assert one - text_only >= 17
    assert two - text_only == 2 * (one - text_only)


def test_the_model_sees_the_image(client: OpenAI) -> None:
    def answer(url: str) -> str:
        response = client.chat.completions.create(
            model=MODEL,
            messages=ask("Describe it.", image_part(url)),
            max_tokens=12,
            temperature=0,
            logit_bias=NO_EOS,
        )
        return response.choices[0].message.content or ""

    assert answer(RED) == answer(RED)
    assert answer(RED) != answer(BLUE)


def test_two_images_streamed_equal_the_same_request_not_streamed(client: OpenAI) -> None:
    request = {
        "model": MODEL,
        "messages": ask(
            "Compare these two parts.", image_part(RED, "low"), image_part(BLUE, "high")
        ),
        "max_tokens": 24,
        "temperature": 0,
        "logit_bias": NO_EOS,
    }
    whole = client.chat.completions.create(**request)  # type: ignore[call-overload]
    chunks = list(
        client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}
        )  # type: ignore[call-overload]
    )
    for chunk in chunks:
        validate(
            "CreateChatCompletionStreamResponse", chunk.model_dump(mode="json", exclude_unset=True)
        )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["length"]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 24
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens  # type: ignore[union-attr]


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_jpeg_and_webp(client: OpenAI, fmt: str, mime: str) -> None:
    url = data_url(image_bytes((10, 200, 10), (64, 64), fmt), mime)
    response = client.chat.completions.create(
        model=MODEL, messages=ask("What color?", image_part(url, "auto")), max_tokens=4
    )
    assert response.usage is not None and response.usage.prompt_tokens > 17


def test_text_only_chat_with_the_vision_model(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="gpt-4o-mini-tiny",
        messages=[
            {"role": "system", "content": "You inspect parts."},
            {"role": "user", "content": "Hello"},
        ],
        max_tokens=5,
    )
    validate("CreateChatCompletionResponse", response.model_dump(mode="json", exclude_unset=True))
    assert response.choices[0].finish_reason in ("stop", "length")


def test_seed_reproduces_a_sampled_answer_and_n_gives_choices(client: OpenAI) -> None:
    def sampled(seed: int) -> list[str]:
        response = client.chat.completions.create(
            model=MODEL,
            messages=ask("Anything wrong?", image_part(RED)),
            max_tokens=10,
            temperature=1.2,
            top_p=0.9,
            seed=seed,
            n=2,
            presence_penalty=0.5,
            frequency_penalty=0.5,
            logit_bias=NO_EOS,
            extra_body={"top_k": 50, "min_p": 0.01, "repeat_penalty": 1.1},
        )
        assert [c.index for c in response.choices] == [0, 1]
        return [c.message.content or "" for c in response.choices]

    first = sampled(7)
    assert sampled(7) == first
    assert sampled(8) != first


def test_stop_sequence_ends_the_answer_before_it(client: OpenAI) -> None:
    request = {
        "model": MODEL,
        "messages": ask("Describe it.", image_part(BLUE)),
        "max_tokens": 30,
        "temperature": 0,
        "logit_bias": NO_EOS,
    }
    full = client.chat.completions.create(**request).choices[0].message.content or ""  # type: ignore[call-overload]
    stop = next(ch for ch in full[5:] if ch.isprintable() and ch != "\ufffd")
    cut = client.chat.completions.create(**request, stop=[stop])  # type: ignore[call-overload]
    assert cut.choices[0].message.content == full[: full.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    chunks = client.chat.completions.create(**request, stop=[stop], stream=True)  # type: ignore[call-overload]
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == full[: full.index(stop)]
    )


def test_max_completion_tokens_is_honoured(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=ask("Go on.", image_part(RED)),
        max_completion_tokens=3,
        logit_bias=NO_EOS,
    )
    assert response.usage is not None and response.usage.completion_tokens == 3
    assert response.choices[0].finish_reason == "length"
