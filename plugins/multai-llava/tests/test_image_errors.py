"""Bad images and unsupported requests: the right status, OpenAI's error shape, and a server
that keeps serving. Through the official SDK (and raw HTTP for the body's shape)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from conftest import MAX_IMAGES, MODEL, RED, data_url
from images_bad import png_bomb
from openai import OpenAI

from multai_core.testing.image_host import image_bytes, image_part
from multai_core.testing.openai_spec import validate


def ask(*images: dict[str, object], text: str = "Check this part.") -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": text}, *images]}]


def refused(call: Callable[[], object], status: int, code: str | None) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as info:
        call()
    error = info.value
    assert error.status_code == status, error.message
    assert error.code == code, error.message
    assert error.type == ("invalid_request_error" if status < 500 else "server_error")
    return error


def still_serving(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL, messages=ask(image_part(RED)), max_tokens=1
    )
    assert response.choices[0].finish_reason in ("stop", "length")


def chat(client: OpenAI, messages: list[dict[str, Any]], **extra: Any) -> Callable[[], object]:
    return lambda: client.chat.completions.create(
        model=MODEL, messages=messages, max_tokens=2, **extra
    )


def test_error_body_has_openai_shape(server: str) -> None:
    url = data_url(b"certainly not an image")
    response = httpx.post(
        f"{server}/v1/chat/completions",
        json={"model": MODEL, "messages": ask(image_part(url))},
    )
    assert response.status_code == 400
    body = response.json()
    validate("ErrorResponse", body)
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["param"] == "messages[0].content[1].image_url.url"
    assert response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"certainly not an image", "invalid_image"),
        (image_bytes((1, 2, 3))[:60], "invalid_image"),  # a PNG cut short
        (png_bomb(10_000, 10_000), "image_too_large"),  # 100 MP: over our 33 MP limit
        (png_bomb(100_000, 100_000), "image_too_large"),  # 10 GP: Pillow's own bomb guard
    ],
    ids=["not-an-image", "truncated", "bomb-100mp", "bomb-10gp"],
)
def test_images_that_must_not_decode(client: OpenAI, payload: bytes, code: str) -> None:
    error = refused(chat(client, ask(image_part(data_url(payload)))), 400, code)
    assert error.param == "messages[0].content[1].image_url.url"
    still_serving(client)


def test_data_url_that_is_not_base64(client: OpenAI) -> None:
    refused(
        chat(client, ask(image_part("data:image/png;base64,@@@not base64@@@"))),
        400,
        "invalid_image_url",
    )
    refused(
        chat(client, ask(image_part("data:text/plain;base64,aGVsbG8="))), 400, "invalid_image_url"
    )


def test_remote_url_refused_while_fetching_is_off(client: OpenAI) -> None:
    error = refused(
        chat(client, ask(image_part("https://images.example.com/part-17.png"))),
        400,
        "remote_images_disabled",
    )
    assert "allow_remote_images" in error.message
    assert "example.com" not in error.message


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.png", "gopher://x"])
def test_other_url_schemes_are_refused(client: OpenAI, url: str) -> None:
    refused(chat(client, ask(image_part(url))), 400, "invalid_image_url")


def test_too_many_images(client: OpenAI) -> None:
    parts = [image_part(RED)] * (MAX_IMAGES + 1)
    error = refused(chat(client, ask(*parts)), 400, "too_many_images")
    assert str(MAX_IMAGES) in error.message


def test_image_outside_a_user_message(client: OpenAI) -> None:
    messages = [
        {"role": "assistant", "content": [image_part(RED)]},
        {"role": "user", "content": "and?"},
    ]
    refused(chat(client, messages), 400, None)


def test_prompt_longer_than_the_context(client: OpenAI) -> None:
    refused(chat(client, ask(image_part(RED), text="x" * 2100)), 400, "context_length_exceeded")


def test_features_the_model_lacks(client: OpenAI) -> None:
    tools = [
        {"type": "function", "function": {"name": "measure", "parameters": {"type": "object"}}}
    ]
    refused(chat(client, ask(image_part(RED)), tools=tools), 400, None)
    refused(chat(client, ask(image_part(RED)), logprobs=True), 400, None)
    refused(chat(client, ask(image_part(RED)), response_format={"type": "json_object"}), 400, None)
    refused(chat(client, ask(image_part(RED)), extra_body={"logit_bias": {"99999": 1}}), 400, None)
    still_serving(client)


def test_unknown_model(client: OpenAI) -> None:
    refused(
        lambda: client.chat.completions.create(
            model="no-such-model", messages=ask(image_part(RED)), max_tokens=1
        ),
        404,
        "model_not_found",
    )
