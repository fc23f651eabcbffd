"""Anthropic's Messages API through the real server and the official anthropic SDK, with the
echo plugin (it echoes the last message's text, after each image's size)."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from anthropic.types import (
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
)
from PIL import Image

from multai_core.config import ApiKeyEntry, Config, ServerConfig
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin


@pytest.fixture
def claude(server: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server, api_key="unused", max_retries=0)


def png(width: int, height: int) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_a_message_comes_back_as_anthropic_shapes_it(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="echo",
        max_tokens=100,
        system=[{"type": "text", "text": "be brief"}],
        messages=[{"role": "user", "content": "hello there"}],
        # this SDK's create() no longer names the sampling fields; the API still takes them
        extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 40},
        stop_sequences=["never"],
        metadata={"user_id": "u-1"},
        extra_headers={"anthropic-version": "2023-06-01"},
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_") and message.model == "echo"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].type == "text" and message.content[0].text == "hello there"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens == 2 and message.usage.output_tokens == 2


def test_max_tokens_ends_the_turn_with_max_tokens(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="echo", max_tokens=2, messages=[{"role": "user", "content": "one two three four"}]
    )
    assert message.content[0].type == "text" and message.content[0].text == "one two"
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 2


def test_a_stop_sequence_that_ends_the_text_is_reported(
    claude: anthropic.Anthropic, client: openai.OpenAI
) -> None:
    said = [{"role": "user", "content": "one two three four"}]
    message = claude.messages.create(
        model="echo", max_tokens=100, messages=said, stop_sequences=["never", "three", "two"]
    )
    assert message.content[0].type == "text" and message.content[0].text == "one"
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "two"
    with claude.messages.stream(
        model="echo", max_tokens=100, messages=said, stop_sequences=["four"]
    ) as stream:
        assert "".join(stream.text_stream) == "one two three"
        final = stream.get_final_message()
    assert final.stop_reason == "stop_sequence" and final.stop_sequence == "four"
    events = list(
        claude.messages.create(
            model="echo", max_tokens=100, messages=said, stop_sequences=["four"], stream=True
        )
    )
    end = events[-2]
    assert isinstance(end, RawMessageDeltaEvent)
    assert end.delta.stop_reason == "stop_sequence" and end.delta.stop_sequence == "four"
    # the OpenAI doors keep OpenAI's finish reason
    chat = client.chat.completions.create(
        model="echo", messages=said, stop=["four"], max_completion_tokens=100
    )
    assert chat.choices[0].finish_reason == "stop"
    assert chat.choices[0].message.content == "one two three"


def test_the_stream_is_anthropics_event_sequence(claude: anthropic.Anthropic) -> None:
    events = list(
        claude.messages.create(
            model="echo",
            max_tokens=100,
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
        )
    )
    assert isinstance(events[0], RawMessageStartEvent)
    assert events[0].message.content == [] and events[0].message.stop_reason is None
    assert isinstance(events[1], RawContentBlockStartEvent) and events[1].index == 0
    deltas = events[2:-3]
    assert deltas and all(isinstance(e, RawContentBlockDeltaEvent) for e in deltas)
    text = "".join(e.delta.text for e in deltas if e.delta.type == "text_delta")
    assert text == "one two three"
    assert isinstance(events[-3], RawContentBlockStopEvent) and events[-3].index == 0
    end = events[-2]
    assert isinstance(end, RawMessageDeltaEvent)
    assert end.delta.stop_reason == "end_turn" and end.usage.output_tokens == 3
    assert isinstance(events[-1], RawMessageStopEvent)


def test_the_sdk_stream_helper_assembles_the_message(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="echo", max_tokens=100, messages=[{"role": "user", "content": "a b c"}]
    ) as stream:
        assert "".join(stream.text_stream) == "a b c"
        final = stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "a b c"
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == 3 and final.usage.output_tokens == 3


def test_the_raw_stream_has_named_events_and_a_ping(server: str) -> None:
    body = {
        "model": "echo",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    raw = httpx.post(f"{server}/v1/messages", json=body)
    assert raw.headers["content-type"].startswith("text/event-stream")
    names = [line[7:] for line in raw.text.splitlines() if line.startswith("event: ")]
    assert names == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert "[DONE]" not in raw.text


def test_images_in_base64_reach_the_model(claude: anthropic.Anthropic) -> None:
    source = {"type": "base64", "media_type": "image/png", "data": png(6, 4)}
    message = claude.messages.create(
        model="echo",
        max_tokens=100,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": source},
                    {"type": "text", "text": "what is it?"},
                ],
            }
        ],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "image:6x4 what is it?"


def test_an_image_url_is_refused_where_remote_images_are_off(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(
            model="echo",
            max_tokens=10,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}
                    ],
                }
            ],
        )
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "does not fetch images" in str(caught.value)


def test_a_bad_media_type_is_a_400(claude: anthropic.Anthropic) -> None:
    source = {"type": "base64", "media_type": "image/tiff", "data": png(2, 2)}
    with pytest.raises(anthropic.BadRequestError, match="media_type"):
        claude.messages.create(
            model="echo",
            max_tokens=10,
            messages=[{"role": "user", "content": [{"type": "image", "source": source}]}],
        )


def test_tool_history_maps_onto_chat_turns(claude: anthropic.Anthropic) -> None:
    tool = {
        "name": "get_weather",
        "description": "Weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    message = claude.messages.create(
        model="echo",
        max_tokens=100,
        tools=[tool],
        tool_choice={"type": "auto"},
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}],
            },
        ],
    )
    # the echo model repeats the last turn: the tool result, as the chat task's tool message
    assert message.content[0].type == "text" and message.content[0].text == "sunny"


@pytest.mark.parametrize(
    "choice",
    [{"type": "any"}, {"type": "tool", "name": "get_weather"}],
)
def test_a_forced_tool_choice_needs_tools(claude: anthropic.Anthropic, choice: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(anthropic.BadRequestError, match="tool"):
        claude.messages.create(
            model="echo",
            max_tokens=10,
            tool_choice=choice,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": "hi"}],
        )


def test_a_tool_choice_must_name_a_given_tool(claude: anthropic.Anthropic) -> None:
    tool = {"name": "a", "input_schema": {"type": "object"}}
    with pytest.raises(anthropic.BadRequestError, match="not in tools"):
        claude.messages.create(
            model="echo",
            max_tokens=10,
            tools=[tool],  # type: ignore[list-item]
            tool_choice={"type": "tool", "name": "b"},
            messages=[{"role": "user", "content": "hi"}],
        )


def test_count_tokens_counts_the_prompt(claude: anthropic.Anthropic) -> None:
    counted = claude.messages.count_tokens(
        model="echo", messages=[{"role": "user", "content": "one two three four"}]
    )
    assert counted.input_tokens == 4


def test_bad_input_gets_anthropics_error_shape(server: str, claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(
            model="echo", max_tokens=0, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body["type"] == "error"  # type: ignore[index]
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    missing = httpx.post(
        f"{server}/v1/messages",
        json={"model": "echo", "messages": [{"role": "user", "content": "x"}]},
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in missing.json()["error"]["message"]
    empty = {"model": "echo", "max_tokens": 5, "messages": [{"role": "user", "content": []}]}
    for body in (b"{", b"", b'{"model": 1}', b"[]", json.dumps(empty).encode()):
        answer = httpx.post(
            f"{server}/v1/messages", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 400, body
        assert set(answer.json()) == {"type", "error"}
        assert set(answer.json()["error"]) == {"type", "message"}


def test_a_wrong_method_or_path_under_messages_is_anthropics_error(
    server: str, claude: anthropic.Anthropic
) -> None:
    wrong_method = httpx.get(f"{server}/v1/messages")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["type"] == "error"
    assert wrong_method.json()["error"]["type"] == "invalid_request_error"
    assert "POST" in wrong_method.json()["error"]["message"]
    assert "POST" in wrong_method.headers["allow"]
    for path in ("/v1/messages/nothing", "/v1/messages/count_tokens/extra"):
        unknown = httpx.post(f"{server}{path}", json={})
        assert unknown.status_code == 404, path
        assert unknown.json() == {
            "type": "error",
            "error": {"type": "not_found_error", "message": unknown.json()["error"]["message"]},
        }
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.get("/v1/messages/nothing", cast_to=httpx.Response)
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.APIStatusError) as refused:
        claude.get("/v1/messages/count_tokens", cast_to=httpx.Response)
    assert refused.value.status_code == 405
    assert refused.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    elsewhere = httpx.get(f"{server}/v1/nothing")
    assert elsewhere.status_code == 404 and set(elsewhere.json()) == {"error"}


def test_a_prefill_the_backend_cannot_continue_is_a_400(
    claude: anthropic.Anthropic, client: openai.OpenAI
) -> None:
    question = {"role": "user", "content": "one two"}
    cases: list[tuple[object, str]] = [
        ("The answer is", "cannot continue a final assistant message"),
        ("The answer is ", "trailing whitespace"),
        ([{"type": "tool_use", "id": "t1", "name": "f", "input": {}}], "tool_use"),
    ]
    for content, says in cases:
        with pytest.raises(anthropic.BadRequestError) as caught:
            claude.messages.create(
                model="echo",
                max_tokens=10,
                messages=[question, {"role": "assistant", "content": content}],  # type: ignore[list-item]
            )
        assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
        assert says in caught.value.body["error"]["message"], content  # type: ignore[index]
    empty = claude.messages.create(
        model="echo", max_tokens=10, messages=[question, {"role": "assistant", "content": ""}]
    )
    assert empty.content[0].type == "text" and empty.content[0].text == "one two"
    alone = [{"role": "assistant", "content": ""}]  # left out, it leaves nothing to answer
    with pytest.raises(anthropic.BadRequestError, match="nothing to answer"):
        claude.messages.create(model="echo", max_tokens=10, messages=alone)  # type: ignore[arg-type]
    with pytest.raises(anthropic.BadRequestError, match="nothing to answer"):
        claude.messages.count_tokens(model="echo", messages=alone)  # type: ignore[arg-type]
    # chat completions take vLLM's continue_final_message, with the same refusal
    for messages, says in (
        ([question, {"role": "assistant", "content": "The"}], "cannot continue"),
        ([question], "last message to be the assistant's"),
        (
            [
                question,
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
            ],
            "without tool calls",
        ),
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(
                model="echo",
                messages=messages,  # type: ignore[arg-type]
                extra_body={"continue_final_message": True},
            )
        assert says in refused.value.message


def test_an_unknown_model_is_not_found_error(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(
            model="nope", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]


def test_a_plugin_failure_after_the_start_is_an_error_event(server: str) -> None:
    body = {
        "model": "echo",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "fine boom"}],
        "stream": True,
    }
    raw = httpx.post(f"{server}/v1/messages", json=body)
    lines = raw.text.splitlines()
    assert "event: error" in lines
    data = lines[lines.index("event: error") + 1]
    assert '"type":"error"' in data and '"api_error"' in data and "secret" not in raw.text
    assert "event: message_stop" not in lines


def test_a_client_that_leaves_mid_stream_cancels_its_job(
    server: str, echo_plugin: EchoPlugin
) -> None:
    body = {
        "model": "slow",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": "w " * 200}],
        "stream": True,
    }
    headers = {"x-request-id": "gone"}
    with httpx.stream("POST", f"{server}/v1/messages", json=body, headers=headers) as r:
        for line in r.iter_lines():
            if line == "event: content_block_delta":
                break
    deadline = time.monotonic() + 5
    while "gone" not in echo_plugin.cancelled and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "gone" in echo_plugin.cancelled


KEYS = [
    ApiKeyEntry(name="full", key="sk-full"),
    ApiKeyEntry(name="slowlane", key="sk-slow", max_priority=1, models=["echo"]),
]


@pytest.fixture
def keyed() -> Iterator[str]:
    plugin = EchoPlugin()
    with make_server(plugin, Config(server=ServerConfig(api_keys=list(KEYS)))) as base_url:
        yield base_url


def test_x_api_key_and_bearer_both_authenticate(keyed: str) -> None:
    by_header = anthropic.Anthropic(base_url=keyed, api_key="sk-full", max_retries=0)
    answer = by_header.messages.create(
        model="echo", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.content[0].type == "text" and answer.content[0].text == "hi"
    by_token = anthropic.Anthropic(base_url=keyed, auth_token="sk-full", max_retries=0)
    assert (
        by_token.messages.count_tokens(
            model="echo", messages=[{"role": "user", "content": "a b"}]
        ).input_tokens
        == 2
    )


def test_a_wrong_key_is_an_authentication_error(keyed: str) -> None:
    wrong = anthropic.Anthropic(base_url=keyed, api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        wrong.messages.create(
            model="echo", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    missing = httpx.post(f"{keyed}/v1/messages", json={})
    assert missing.status_code == 401 and missing.json()["type"] == "error"


def test_key_limits_apply(keyed: str) -> None:
    slow = anthropic.Anthropic(base_url=keyed, api_key="sk-slow", max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        slow.messages.create(
            model="echo",
            max_tokens=5,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"priority": 0},
        )
    assert caught.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    answer = slow.messages.create(
        model="echo",
        max_tokens=5,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"priority": 2},
    )
    assert answer.content[0].type == "text"


def test_other_paths_keep_openais_error_shape(keyed: str) -> None:
    answer = httpx.post(f"{keyed}/v1/chat/completions", json={}, headers={"x-api-key": "sk-no"})
    assert answer.status_code == 401 and set(answer.json()) == {"error"}
