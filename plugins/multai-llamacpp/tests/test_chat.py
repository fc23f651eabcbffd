from __future__ import annotations

import json
import threading

import jsonschema
import llama_cpp
import pytest
from conftest import SYSTEM, collect, engine_task, run, start
from multai_llamacpp.chat import plan_chat

from multai_core.plugin_api import (
    ChatTask,
    ImagePart,
    InvalidRequest,
    Message,
    RawImage,
    Task,
    TextDelta,
    Usage,
)

CAPITAL = [SYSTEM, {"role": "user", "content": "What is the capital of France?"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the local time in a timezone",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}


def test_greedy_answer_is_sensible(pm, handle):
    out = run(pm, handle, "chat", {"messages": CAPITAL, "temperature": 0, "max_tokens": 30})
    assert "Paris" in out.text
    assert out.finish == {0: "stop"}
    assert out.usage is not None
    assert out.usage.prompt_tokens > 10
    assert 0 < out.usage.completion_tokens <= 30


def test_temperature_zero_is_deterministic(pm, handle):
    body = {"messages": CAPITAL, "temperature": 0, "max_tokens": 12}
    first = run(pm, handle, "chat", body)
    second = run(pm, handle, "chat", body)
    assert first.text == second.text
    assert first.text


def test_same_seed_same_sample(pm, handle):
    body = {
        "messages": [SYSTEM, {"role": "user", "content": "Write a poem about the sea."}],
        "temperature": 1.0,
        "max_tokens": 12,
        "seed": 1234,
    }
    assert run(pm, handle, "chat", body).text == run(pm, handle, "chat", body).text


def test_stop_sequence_ends_the_answer_before_it(pm, handle):
    body = {"messages": CAPITAL, "temperature": 0, "max_tokens": 30, "stop": ["Paris"]}
    out = run(pm, handle, "chat", body)
    assert "Paris" not in out.text
    assert out.text.startswith("The capital of France is")
    assert out.finish == {0: "stop"}


def test_max_tokens_gives_length(pm, handle):
    body = {"messages": CAPITAL, "temperature": 0, "max_completion_tokens": 3}
    out = run(pm, handle, "chat", body)
    assert out.finish == {0: "length"}
    assert out.usage is not None
    assert out.usage.completion_tokens == 3


def test_n_choices_with_seed_vary(pm, handle):
    body = {
        "messages": [SYSTEM, {"role": "user", "content": "Tell me a story about a dragon."}],
        "temperature": 1.0,
        "max_tokens": 10,
        "seed": 7,
        "n": 2,
    }
    out = run(pm, handle, "chat", body)
    assert set(out.finish) == {0, 1}
    assert out.texts[0] != out.texts[1]
    assert out.usage is not None
    assert out.usage.completion_tokens == 20


def test_json_object_output_parses(pm, handle):
    body = {
        "messages": [
            SYSTEM,
            {
                "role": "user",
                "content": 'Return a JSON object with keys "name" and "age" for a cat named Tom '
                "aged 3.",
            },
        ],
        "temperature": 0,
        "max_tokens": 80,
        "response_format": {"type": "json_object"},
    }
    out = run(pm, handle, "chat", body)
    assert out.finish == {0: "stop"}
    assert isinstance(json.loads(out.text), dict)


def test_json_object_cut_by_max_tokens_says_length(pm, handle):
    body = {
        "messages": [SYSTEM, {"role": "user", "content": "Describe a city as a JSON object."}],
        "temperature": 0,
        "max_tokens": 5,
        "response_format": {"type": "json_object"},
    }
    out = run(pm, handle, "chat", body)
    assert out.finish == {0: "length"}
    assert out.text.lstrip().startswith("{")


def test_json_schema_output_validates(pm, handle):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "pets": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        },
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    body = {
        "messages": [SYSTEM, {"role": "user", "content": "Describe a person."}],
        "temperature": 0,
        "max_tokens": 80,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": schema, "strict": True},
        },
    }
    out = run(pm, handle, "chat", body)
    assert out.finish == {0: "stop"}
    jsonschema.validate(json.loads(out.text), schema)


def test_named_tool_choice_gives_a_parseable_call(pm, handle):
    body = {
        "messages": [SYSTEM, {"role": "user", "content": "What is the weather in Paris?"}],
        "temperature": 0,
        "max_tokens": 60,
        "tools": [WEATHER_TOOL, TIME_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }
    out = run(pm, handle, "chat", body)
    assert out.finish == {0: "tool_calls"}
    assert out.text == ""
    [call] = out.calls[0]
    assert call["id"].startswith("call_")
    assert call["name"] == "get_weather"
    arguments = json.loads(call["arguments"])
    jsonschema.validate(arguments, WEATHER_TOOL["function"]["parameters"])
    # Streamed: the id and name come first, then the arguments in pieces.
    pieces = [d.tool_calls[0] for d in out.deltas if d.tool_calls]
    assert pieces[0].name == "get_weather"
    assert pieces[0].arguments == ""
    assert len(pieces) > 2
    assert all(p.id is None and p.name is None for p in pieces[1:])


def test_required_tool_choice_picks_one_of_the_tools(pm, handle):
    body = {
        "messages": [SYSTEM, {"role": "user", "content": "What time is it in Tokyo?"}],
        "temperature": 0,
        "max_tokens": 60,
        "tools": [WEATHER_TOOL, TIME_TOOL],
        "tool_choice": "required",
    }
    out = run(pm, handle, "chat", body)
    assert out.finish == {0: "tool_calls"}
    [call] = out.calls[0]
    tools = {t["function"]["name"]: t for t in (WEATHER_TOOL, TIME_TOOL)}
    assert call["name"] in tools
    jsonschema.validate(
        json.loads(call["arguments"]), tools[call["name"]]["function"]["parameters"]
    )


def test_tool_choice_none_ignores_tools(pm, handle):
    body = {
        "messages": CAPITAL,
        "temperature": 0,
        "max_tokens": 20,
        "tools": [WEATHER_TOOL],
        "tool_choice": "none",
    }
    out = run(pm, handle, "chat", body)
    assert out.calls == {}
    assert "Paris" in out.text


def test_tool_results_in_history_are_accepted(pm, handle):
    messages = [
        SYSTEM,
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21, "sky": "sunny"}'},
    ]
    body = {"messages": messages, "tools": [WEATHER_TOOL], "temperature": 0, "max_tokens": 20}
    out = run(pm, handle, "chat", body)
    assert out.finish[0] in ("stop", "length", "tool_calls")


def test_logprobs_are_present_and_consistent(pm, handle):
    body = {
        "messages": CAPITAL,
        "temperature": 0,
        "max_tokens": 8,
        "logprobs": True,
        "top_logprobs": 3,
    }
    out = run(pm, handle, "chat", body)
    entries = out.logprobs[0]
    assert out.usage is not None
    assert 0 < len(entries) == out.usage.completion_tokens <= 8
    assert "".join(e.token for e in entries) == out.text
    for entry in entries:
        assert entry.logprob <= 0.0
        assert entry.bytes is not None
        assert bytes(entry.bytes).decode("utf-8", errors="replace") == entry.token
        assert len(entry.top_logprobs) == 3
        tops = [t.logprob for t in entry.top_logprobs]
        assert tops == sorted(tops, reverse=True)
        # Greedy: the chosen token is the most likely one.
        assert entry.top_logprobs[0].token == entry.token
        assert entry.top_logprobs[0].logprob == pytest.approx(entry.logprob)
        assert sum(2.718281828**t for t in tops) <= 1.0 + 1e-4


def test_no_logprobs_unless_asked(pm, handle):
    out = run(pm, handle, "chat", {"messages": CAPITAL, "temperature": 0, "max_tokens": 4})
    assert out.logprobs == {}


def test_context_overflow_is_refused_before_any_delta(pm, handle):
    long_text = "hello " * (handle.n_ctx + 10)
    iterator = start(
        pm, handle, "chat", {"messages": [{"role": "user", "content": long_text}], "max_tokens": 5}
    )
    with pytest.raises(InvalidRequest) as info:
        next(iterator)
    assert info.value.code == "context_length_exceeded"
    assert info.value.param == "messages"
    assert str(handle.n_ctx) in info.value.message


def test_wire_refusals_come_from_serving_before_the_pack_runs():
    bad_bodies = [
        {"messages": CAPITAL, "tool_choice": "required"},
        {
            "messages": CAPITAL,
            "tools": [WEATHER_TOOL],
            "tool_choice": {"type": "function", "function": {"name": "nope"}},
        },
        {"messages": CAPITAL, "top_logprobs": 2},
        {"messages": CAPITAL, "logit_bias": {"x": 5}},
    ]
    for body in bad_bodies:
        with pytest.raises(InvalidRequest):
            engine_task("chat", body)


def test_invalid_requests_raise_on_first_next(pm, handle):
    pixel = RawImage(width=1, height=1, mode="RGB", pixels=b"\0\0\0")
    with_image = ChatTask(messages=[Message(role="user", content=[ImagePart(image=pixel)])])
    tasks = [
        engine_task("chat", {"messages": CAPITAL, "logit_bias": {"999999": 5}}),
        with_image,
    ]
    for chat in tasks:
        task = Task(id="t", kind="chat", model="smollm2-135m-instruct", payload=chat)
        iterator = pm.hook.multai_infer(handle=handle, task=task, cancel=threading.Event())
        with pytest.raises(InvalidRequest):
            next(iterator)


def test_logit_bias_can_forbid_a_token(pm, handle):
    base = run(pm, handle, "chat", {"messages": CAPITAL, "temperature": 0, "max_tokens": 1})
    first = handle.llama.tokenize(base.text.encode(), False, False)[0]
    body = {
        "messages": CAPITAL,
        "temperature": 0,
        "max_tokens": 1,
        "logit_bias": {str(first): -100},
    }
    assert run(pm, handle, "chat", body).text != base.text


def test_cancel_stops_generation_early(pm, handle):
    cancel = threading.Event()
    body = {
        "messages": [SYSTEM, {"role": "user", "content": "Write a very long story."}],
        "temperature": 0,
        "max_tokens": 200,
    }
    iterator = start(pm, handle, "chat", body, cancel=cancel)
    received = 0
    items = []
    for item in iterator:
        items.append(item)
        if isinstance(item, TextDelta) and item.text:
            received += 1
            if received == 3:
                cancel.set()
    usage = items[-1]
    assert isinstance(usage, Usage)
    assert usage.completion_tokens <= 4
    assert not any(isinstance(i, TextDelta) and i.finish_reason for i in items)


def test_closing_the_iterator_releases_the_model(pm, handle):
    iterator = start(pm, handle, "chat", {"messages": CAPITAL, "max_tokens": 50})
    next(iterator)
    iterator.close()
    assert not handle.lock.locked()
    out = run(pm, handle, "chat", {"messages": CAPITAL, "temperature": 0, "max_tokens": 30})
    assert "Paris" in out.text


def test_repeat_penalty_is_off_unless_asked(handle):
    plan, _, _ = plan_chat(handle, engine_task("chat", {"messages": CAPITAL}))
    assert plan.sampling.params.repeat_penalty == 1.0
    assert plan.sampling.params.temperature == 1.0
    assert plan.sampling.params.top_p == 1.0
    plan, _, _ = plan_chat(
        handle, engine_task("chat", {"messages": CAPITAL, "repeat_penalty": 1.3})
    )
    assert plan.sampling.params.repeat_penalty == 1.3


def test_request_threads_are_clamped_and_restored(pm, handle):
    body = {"messages": CAPITAL, "temperature": 0, "max_tokens": 3, "n_threads": 8}
    out = run(pm, handle, "chat", body)
    assert out.finish == {0: "length"}
    assert llama_cpp.llama_n_threads(handle.llama.ctx) == handle.n_threads == 1


def test_stream_shape(pm, handle):
    items = list(start(pm, handle, "chat", {"messages": CAPITAL, "max_tokens": 5, "n": 2}))
    assert isinstance(items[-1], Usage)
    assert sum(isinstance(i, Usage) for i in items) == 1
    deltas = [i for i in items if isinstance(i, TextDelta)]
    for index in (0, 1):
        own = [d for d in deltas if d.index == index]
        assert own[-1].finish_reason is not None
        assert all(d.finish_reason is None for d in own[:-1])
    assert collect(iter(items)).usage is not None
