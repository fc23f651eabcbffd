"""The OpenAI API through the Ray ingress, with the official SDK: the same answers, errors,
auth and streaming as `multai serve`."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest
from conftest import RayServer
from openai import OpenAI

CHAT = "smollm2"
INVOICE = Path(__file__).parents[1] / "plugins/multai-whisper/tests/fixtures/en_invoice.wav"


def test_models_lists_the_engines_models(client: OpenAI) -> None:
    ids = {m.id for m in client.models.list().data}
    assert {"smollm2-135m-instruct", "whisper-1"} <= ids


def test_chat_answers_with_usage(client: OpenAI) -> None:
    answer = client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=12,
        temperature=0,
    )
    assert answer.choices[0].message.content
    assert answer.usage is not None and answer.usage.completion_tokens > 0


def test_chat_streams_deltas_then_usage(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Count from one to five."}],
        max_tokens=16,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_greedy_answer_is_the_same_on_either_replica(client: OpenAI) -> None:
    def ask() -> str | None:
        return (
            client.chat.completions.create(
                model=CHAT,
                messages=[{"role": "user", "content": "Name a colour."}],
                max_tokens=8,
                temperature=0,
            )
            .choices[0]
            .message.content
        )

    first = ask()
    assert all(ask() == first for _ in range(3))


def test_embeddings(client: OpenAI) -> None:
    result = client.embeddings.create(model=CHAT, input=["a cat", "a dog"])
    assert len(result.data) == 2
    assert len(result.data[0].embedding) == len(result.data[1].embedding) > 0


def test_unknown_model_is_the_same_404(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "does not exist" in str(caught.value)


def test_a_bad_request_is_the_same_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=CHAT, messages=[], max_tokens=4)


def test_a_missing_key_is_a_401(ray_server: RayServer) -> None:
    with pytest.raises(openai.AuthenticationError):
        ray_server.client(key="sk-wrong").models.list()
    response = httpx.get(f"{ray_server.base_url}/v1/models", timeout=10)
    assert response.status_code == 401


def test_transcription(client: OpenAI) -> None:
    with INVOICE.open("rb") as audio:
        result = client.audio.transcriptions.create(model="whisper-1", file=audio, language="en")
    assert "invoice" in result.text.lower()
