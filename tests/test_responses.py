"""POST /v1/responses through the official SDK with the echo plugin: the object, the stream's
event sequence (validated against OpenAI's published spec), tools and refusals."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI

from multai_core.config import Config, ServerConfig
from multai_core.testing.openai_spec import validate
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin
from tests.test_decode_budget import data_url, solid_png


@pytest.fixture
def server(echo_plugin: EchoPlugin, tmp_path: Path) -> Iterator[str]:
    """Stored responses go to the test's folder, never the user's data directory."""
    with make_server(echo_plugin, Config(server=ServerConfig(data_dir=str(tmp_path)))) as base_url:
        yield base_url


def _plain(model: object) -> object:
    return model.model_dump(mode="json", exclude_unset=True, by_alias=True)  # type: ignore[attr-defined]


def test_string_input_answers_with_a_message(client: OpenAI) -> None:
    response = client.responses.create(
        model="echo",
        input="hello there",
        instructions="Be brief.",
        metadata={"case": "one"},
        temperature=0.5,
    )
    assert response.status == "completed"
    assert response.output_text == "hello there"
    assert response.id.startswith("resp_")
    assert response.instructions == "Be brief."
    assert response.metadata == {"case": "one"}
    assert response.usage is not None and response.usage.output_tokens == 2
    assert response.usage.total_tokens == response.usage.input_tokens + 2
    validate("Response", _plain(response))


def test_item_list_input_and_max_output_tokens(client: OpenAI) -> None:
    response = client.responses.create(
        model="echo",
        input=[
            {"role": "user", "content": "first question"},
            {"type": "message", "role": "assistant", "content": "an answer"},
            {"role": "user", "content": [{"type": "input_text", "text": "one two three"}]},
        ],
        max_output_tokens=2,
    )
    assert response.output_text == "one two"
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    validate("Response", _plain(response))


def test_stream_event_sequence_matches_the_spec(client: OpenAI) -> None:
    events = list(client.responses.create(model="echo", input="a b c", stream=True))
    kinds = [e.type for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    for event in events:
        validate("ResponseStreamEvent", _plain(event))
    done = events[-1]
    assert done.type == "response.completed"
    assert done.response.output_text == "a b c"
    assert done.response.usage is not None


def test_stream_is_server_sent_events_with_event_names(server: str) -> None:
    raw = httpx.post(f"{server}/v1/responses", json={"model": "echo", "input": "x", "stream": True})
    assert raw.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in raw.text.split("\n\n") if b.strip()]
    for block in blocks:
        name, data = block.split("\n")
        assert name.removeprefix("event: ") == json.loads(data.removeprefix("data: "))["type"]
    assert "[DONE]" not in raw.text


def test_stream_failure_ends_with_error_and_response_failed(client: OpenAI) -> None:
    events = list(client.responses.create(model="echo", input="fine then boom", stream=True))
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.status == "failed" and failed.response.error is not None
    assert "secret" not in failed.response.error.message
    for event in events:
        validate("ResponseStreamEvent", _plain(event))


def test_json_schema_text_format_is_echoed_and_passed_on(client: OpenAI) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    response = client.responses.create(
        model="echo",
        input="{}",
        text={"format": {"type": "json_schema", "name": "thing", "schema": schema}},
    )
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"
    validate("Response", _plain(response))


def test_function_call_items_round_trip(client: OpenAI) -> None:
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    response = client.responses.create(
        model="echo",
        tools=tools,  # type: ignore[arg-type]
        tool_choice={"type": "function", "name": "get_weather"},
        input=[
            {"role": "user", "content": "weather in Paris?"},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Paris"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny and warm"},
        ],
    )
    assert response.output_text == "sunny and warm"
    assert response.tools[0].type == "function"
    validate("Response", _plain(response))


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"reasoning": {"effort": "high"}}, "reasoning"),
        ({"include": ["file_search_call.results"]}, "include"),
        ({"truncation": "auto"}, "truncation"),
        ({"input": [{"type": "computer_call_output"}]}, "input[0].type"),
        ({"input": [{"role": "user", "content": 7}]}, "input[0]"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].image_url",
        ),
        ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
        ({"text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"input": []}, "input"),
    ],
)
def test_unsupported_or_bad_fields_are_a_400_naming_them(
    server: str, body: dict[str, object], param: str
) -> None:
    r = httpx.post(f"{server}/v1/responses", json={"model": "echo", "input": "x", **body})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_sdk_raises_bad_request_and_unknown_model_404(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="echo", input="x", reasoning={"effort": "low"})
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="nope", input="x")


def test_input_image_reaches_a_vision_model(client: OpenAI) -> None:
    response = client.responses.create(
        model="echo",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "what is this"},
                    {"type": "input_image", "image_url": data_url(solid_png(7, 5))},
                ],
            }
        ],
    )
    assert response.output_text == "image:7x5 what is this"
    validate("Response", _plain(response))


def test_a_client_that_leaves_a_stream_cancels_its_job(
    server: str, echo_plugin: EchoPlugin
) -> None:
    words = " ".join(f"w{i}" for i in range(400))  # 20 s at the slow model's pace
    body = {"model": "slow", "input": words, "stream": True}
    with httpx.stream("POST", f"{server}/v1/responses", json=body) as stream:
        request_id = stream.headers["x-request-id"]
        for line in stream.iter_lines():
            if "output_text.delta" in line:
                break
    deadline = time.monotonic() + 10
    while request_id not in echo_plugin.cancelled and time.monotonic() < deadline:
        time.sleep(0.05)
    assert request_id in echo_plugin.cancelled
    stored = httpx.get(f"{server}/v1/responses/resp_{request_id}").json()
    assert stored["status"] == "cancelled"
    assert stored["output"][0]["content"][0]["text"].startswith("w0")
