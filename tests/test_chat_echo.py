"""The serving path through the real server and the official SDK, with the echo plugin."""

from __future__ import annotations

import httpx
import jsonschema
from openai import OpenAI

from multai_core.testing.openai_spec import validate


def test_chat_non_streamed_matches_spec(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "hello there"}]
    )
    assert response.choices[0].message.content == "hello there"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None and response.usage.completion_tokens == 2
    validate("CreateChatCompletionResponse", response.model_dump(mode="json", exclude_unset=True))


def test_chat_streamed_concatenates_to_the_same_text(client: OpenAI, server: str) -> None:
    stream = client.chat.completions.create(
        model="echo-alias",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 6
    for chunk in chunks:
        validate(
            "CreateChatCompletionStreamResponse", chunk.model_dump(mode="json", exclude_unset=True)
        )
    raw = httpx.post(
        f"{server}/v1/chat/completions",
        json={"model": "echo", "messages": [{"role": "user", "content": "a"}], "stream": True},
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.rstrip().endswith("data: [DONE]")


def test_streamed_events_match_the_documented_event_schema(server: str) -> None:
    """The server's OpenAPI document gives text/event-stream a schema per event (as fuzzers
    and OpenAPI 3.2's itemSchema read it); every event of a real stream satisfies it."""
    document = httpx.get(f"{server}/openapi/openapi.json").json()
    for path in ("/v1/chat/completions", "/v1/completions"):
        content = document["paths"][path]["post"]["responses"]["200"]["content"]
        schema = content["text/event-stream"]["schema"]
        body = {"model": "echo", "stream": True, "max_tokens": 2}
        body |= (
            {"messages": [{"role": "user", "content": "a b c"}]}
            if "chat" in path
            else {"prompt": "a b c"}
        )
        raw = httpx.post(f"{server}{path}", json=body).text
        events = [
            {"data": line.removeprefix("data: "), "event": "message"}
            for line in raw.splitlines()
            if line.startswith("data: ")
        ]
        assert len(events) >= 3
        for event in events:
            jsonschema.validate(event, schema)


def test_request_id_header_and_response_id(server: str) -> None:
    r = httpx.post(
        f"{server}/v1/chat/completions",
        json={"model": "echo", "messages": [{"role": "user", "content": "x"}]},
        headers={"x-request-id": "my-id-42"},
    )
    assert r.headers["x-request-id"] == "my-id-42"
    assert r.json()["id"] == "chatcmpl-my-id-42"
    other = httpx.get(f"{server}/health")
    assert len(other.headers["x-request-id"]) == 32


def test_legacy_completion_and_stream(client: OpenAI) -> None:
    response = client.completions.create(model="echo", prompt="alpha beta", max_tokens=1)
    assert response.choices[0].text == "alpha"
    assert response.choices[0].finish_reason == "length"
    validate("CreateCompletionResponse", response.model_dump(mode="json", exclude_unset=True))
    text = "".join(
        c.choices[0].text
        for c in client.completions.create(model="echo", prompt="a b", stream=True)
        if c.choices
    )
    assert text == "a b"


def test_embeddings_float_and_base64(client: OpenAI, server: str) -> None:
    # The SDK asks for base64 by default and decodes it: both must give the same vectors.
    by_sdk = client.embeddings.create(model="echo", input=["a", "b"])
    floats = httpx.post(
        f"{server}/v1/embeddings",
        json={"model": "echo", "input": ["a", "b"], "encoding_format": "float"},
    ).json()
    validate("CreateEmbeddingResponse", floats)
    for mine, theirs in zip(by_sdk.data, floats["data"], strict=True):
        assert [round(v, 5) for v in mine.embedding] == [round(v, 5) for v in theirs["embedding"]]


def test_models_list_and_get(client: OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert {"echo", "echo-alias", "slow"} <= set(ids)
    validate("Model", client.models.retrieve("echo").model_dump(mode="json"))
