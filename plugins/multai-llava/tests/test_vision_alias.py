"""POST /v1/vision, the thesis's endpoint: JSON with base64 or a data URL, or a multipart form
with a file; answered exactly like a chat completion with that prompt and image."""

from __future__ import annotations

import base64
import json

import httpx
import openai
import pytest
from conftest import MODEL
from images_bad import png_bomb
from openai import OpenAI
from openai.types.chat import ChatCompletion

from multai_core.testing.image_host import image_bytes, image_part
from multai_core.testing.openai_spec import validate

PNG = image_bytes((220, 20, 20))
PROMPT = "Is there a crack in this casting?"


def vision(client: OpenAI, body: dict[str, object]) -> ChatCompletion:
    """The official SDK's generic POST, as a client without a vision method would call it."""
    return client.post("/vision", body=body, cast_to=ChatCompletion)


def test_json_with_base64_and_data_url(client: OpenAI) -> None:
    raw = base64.b64encode(PNG).decode()
    body = {"model": MODEL, "prompt": PROMPT, "max_tokens": 6, "temperature": 0}
    from_b64 = vision(client, {**body, "image": raw})
    validate("CreateChatCompletionResponse", from_b64.model_dump(mode="json", exclude_unset=True))
    assert from_b64.usage is not None and from_b64.usage.completion_tokens <= 6
    from_url = vision(client, {**body, "image": f"data:image/png;base64,{raw}"})
    assert from_url.choices[0].message.content == from_b64.choices[0].message.content
    assert from_url.usage == from_b64.usage


def test_alias_answers_what_chat_answers(client: OpenAI, server: str) -> None:
    raw = base64.b64encode(PNG).decode()
    expected = client.chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    image_part(f"data:image/png;base64,{raw}"),
                    {"type": "text", "text": PROMPT},
                ],
            }
        ],
        max_tokens=10,
        temperature=0,
    )
    response = httpx.post(
        f"{server}/v1/vision",
        json={"model": MODEL, "prompt": PROMPT, "image": raw, "max_tokens": 10, "temperature": 0},
        timeout=60,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"]["content"] == expected.choices[0].message.content
    assert body["usage"]["prompt_tokens"] == expected.usage.prompt_tokens  # type: ignore[union-attr]


def test_multipart_form_with_an_image_file(server: str) -> None:
    response = httpx.post(
        f"{server}/v1/vision",
        data={"model": MODEL, "prompt": PROMPT, "max_tokens": "5", "priority": "2"},
        files={"image": ("part.png", PNG, "image/png")},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    validate("CreateChatCompletionResponse", body)
    assert body["usage"]["completion_tokens"] <= 5
    assert body["usage"]["prompt_tokens"] > 17


def test_streamed(server: str) -> None:
    with httpx.stream(
        "POST",
        f"{server}/v1/vision",
        json={
            "model": MODEL,
            "prompt": PROMPT,
            "image": base64.b64encode(PNG).decode(),
            "max_tokens": 8,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        timeout=60,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
    assert chunks[-1]["usage"]["completion_tokens"] <= 8


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": MODEL, "prompt": "x"}, 400, None),
        ({"model": MODEL, "prompt": "x", "image": "%%% not base64 %%%"}, 400, "invalid_image"),
        (
            {"model": MODEL, "prompt": "x", "image": base64.b64encode(b"GIF89a?").decode()},
            400,
            "invalid_image",
        ),
        (
            {
                "model": MODEL,
                "prompt": "x",
                "image": base64.b64encode(png_bomb(20_000, 20_000)).decode(),
            },
            400,
            "image_too_large",
        ),
        (
            {"model": MODEL, "prompt": "x", "image": "data:image/png;base64,AAAA", "max_tokens": 0},
            400,
            None,
        ),
        (
            {"model": "no-such-model", "prompt": "x", "image": base64.b64encode(PNG).decode()},
            404,
            "model_not_found",
        ),
        ({"prompt": "x", "image": base64.b64encode(PNG).decode()}, 400, None),
    ],
    ids=[
        "no-image",
        "bad-base64",
        "not-an-image",
        "bomb",
        "bad-max-tokens",
        "unknown-model",
        "no-model",
    ],
)
def test_alias_errors(
    client: OpenAI, body: dict[str, object], status: int, code: str | None
) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        vision(client, body)
    assert info.value.status_code == status, info.value.message
    assert info.value.code == code
    assert info.value.type == "invalid_request_error"


def test_alias_refuses_other_bodies(server: str) -> None:
    bad = [
        httpx.post(
            f"{server}/v1/vision",
            content=b"{not json",
            headers={"content-type": "application/json"},
        ),
        httpx.post(
            f"{server}/v1/vision", content=b"prompt=x", headers={"content-type": "text/plain"}
        ),
        httpx.post(
            f"{server}/v1/vision",
            content=b'--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nx',
            headers={"content-type": "multipart/form-data; boundary=b"},
        ),
        httpx.post(f"{server}/v1/vision", data={"model": MODEL, "prompt": "no file"}),
    ]
    for response in bad:
        assert response.status_code == 400, response.text
        validate("ErrorResponse", response.json())
    assert httpx.get(f"{server}/health").status_code == 200
