"""Serving's conversion of the text wire requests into engine tasks, and the wire checks that
run once, in serving, for every pack."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from multai_core.plugin_api import (
    ChatTask,
    ImagePart,
    InvalidRequest,
    RawImage,
    Sampling,
    SamplingParams,
    TextPart,
    ToolCall,
)
from multai_core.protocol.chat import ChatCompletionRequest
from multai_core.protocol.completions import CompletionRequest
from multai_core.protocol.embeddings import EmbeddingRequest
from multai_core.serving.chat_task import chat_task
from multai_core.serving.completions import completion_task
from multai_core.serving.embeddings import embedding_task

USER = {"role": "user", "content": "hi"}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
PIXEL = RawImage(width=1, height=1, mode="RGB", pixels=b"\x00\x00\x00")


def chat(images: list[RawImage] | None = None, **body: Any) -> ChatTask:
    wire = msgspec.convert({"model": "m", "messages": [USER], **body}, ChatCompletionRequest)
    return chat_task(wire, images or [])


def test_roles_parts_and_tool_calls_become_engine_messages() -> None:
    task = chat(
        messages=[
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is"},
                    {"type": "image_url", "image_url": {"url": "data:,"}},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "refusal", "refusal": "No."}],
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "function", "name": "f", "content": "42"},
        ],
        images=[PIXEL],
    )
    assert [m.role for m in task.messages] == ["system", "user", "assistant", "tool"]
    assert task.messages[1].content == [TextPart(text="What is"), ImagePart(image=PIXEL)]
    assert task.messages[2].text() == "No."
    assert task.messages[2].tool_calls == [ToolCall(id="c1", name="f", arguments="{}")]
    assert task.messages[3].name == "f"
    assert task.images() == [PIXEL]
    assert "What is" not in repr(task) and "What is" not in repr(task.messages[1])


def test_sampling_limits_and_stops() -> None:
    task = chat(
        temperature=0.5,
        top_k=3,
        seed=7,
        logit_bias={"12": -100, "3": 2.5},
        max_tokens=9,
        max_completion_tokens=5,
        stop="END",
        n=2,
        logprobs=True,
        top_logprobs=3,
    )
    assert task.sampling == SamplingParams(
        temperature=0.5, top_k=3, seed=7, logit_bias={12: -100.0, 3: 2.5}
    )
    assert (task.max_tokens, task.stop, task.n) == (5, ["END"], 2)
    assert (task.logprobs, task.top_logprobs) == (True, 3)
    assert chat().max_tokens is None


def test_tools_tool_choice_and_response_format() -> None:
    named = chat(tools=[TOOL], tool_choice={"type": "function", "function": {"name": "f"}})
    assert named.tool_choice == "f"
    assert named.tools[0].name == "f" and named.tools[0].parameters == {"type": "object"}
    assert chat(tools=[TOOL]).tool_choice == "auto"
    assert chat().tool_choice == "none"
    schema = {"type": "object"}
    fmt = chat(
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}
    ).response_format
    assert (fmt.type, fmt.schema, fmt.name) == ("json_schema", schema, "s")
    assert chat(response_format={"type": "json_object"}).response_format.type == "json_object"
    assert chat().response_format.type == "text"


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"tool_choice": "required"}, "tool_choice", "non-empty tools list"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "f"}}},
            "tool_choice",
            "no tools were given",
        ),
        (
            {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "g"}}},
            "tool_choice",
            "not in tools",
        ),
        ({"top_logprobs": 2}, "top_logprobs", "requires logprobs"),
        ({"logit_bias": {"a": 1}}, "logit_bias", "keys must be token ids"),
        ({"logit_bias": {"1": 101}}, "logit_bias", "values must be in [-100, 100]"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}
                        ],
                    }
                ]
            },
            "messages[0].content[0]",
            "Audio input is not supported",
        ),
    ],
)
def test_wire_refusals(body: dict[str, Any], param: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat(**body)
    assert caught.value.param == param
    assert message in caught.value.message


def test_a_vocabulary_check_is_left_to_the_pack() -> None:
    params = chat(logit_bias={"-1": 1, "5": 1}).sampling
    with pytest.raises(InvalidRequest, match=r"token -1 is outside the vocabulary \(0\.\.9\)"):
        params.check_vocabulary(10)
    with pytest.raises(InvalidRequest, match="outside the vocabulary"):
        params.resolve(n_vocab=10, top_k=40, min_p=0.05)


def test_a_pack_resolves_what_the_request_left_unset() -> None:
    resolved = chat(top_p=0.5, logit_bias={"5": 1}).sampling.resolve(
        n_vocab=10, top_k=40, min_p=0.05
    )
    assert resolved == Sampling(top_p=0.5, top_k=40, min_p=0.05, logit_bias={5: 1.0})
    assert (
        not resolved.greedy
        and chat(temperature=0).sampling.resolve(n_vocab=10, top_k=0, min_p=0).greedy
    )


def test_every_image_part_needs_its_prepared_image() -> None:
    with pytest.raises(ValueError, match="1 image parts but 0 prepared images"):
        chat(
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
            ]
        )


def test_completion_and_embedding_tasks() -> None:
    wire = msgspec.convert({"model": "m", "prompt": [[1, 2], [3]]}, CompletionRequest)
    task = completion_task(wire)
    assert task.prompts == [[1, 2], [3]]
    assert task.max_tokens == 16  # OpenAI's default for /v1/completions
    assert task.logprobs is None and not task.echo
    wire = msgspec.convert(
        {"model": "m", "prompt": "hi", "max_tokens": 0, "echo": True, "logprobs": 2, "stop": ["x"]},
        CompletionRequest,
    )
    task = completion_task(wire)
    assert (task.prompts, task.max_tokens, task.echo, task.logprobs) == (["hi"], 0, True, 2)
    assert task.stop == ["x"]
    embedding = embedding_task(
        msgspec.convert({"model": "m", "input": "hi", "dimensions": 8}, EmbeddingRequest)
    )
    assert (embedding.inputs, embedding.dimensions) == (["hi"], 8)
