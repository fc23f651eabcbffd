"""The OpenAPI spec helper: OpenAI's schemas, normalised, accept what the API sends."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from multai_core.testing import openai_spec
from multai_core.testing.openai_spec import SpecViolation, validate, validate_chat_chunk

CHAT_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "qwen",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}

CHUNK: dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion.chunk",
    "created": 1741570283,
    "model": "qwen",
    "choices": [{"index": 0, "delta": {"content": "Hel"}, "logprobs": None, "finish_reason": None}],
}


def chat_completion() -> dict[str, Any]:
    return copy.deepcopy(CHAT_COMPLETION)


def chunk() -> dict[str, Any]:
    return copy.deepcopy(CHUNK)


def test_chat_completion_passes() -> None:
    validate("CreateChatCompletionResponse", chat_completion())


def test_chat_completion_without_refusal_fails() -> None:
    response = chat_completion()
    del response["choices"][0]["message"]["refusal"]
    with pytest.raises(SpecViolation, match="refusal") as caught:
        validate("CreateChatCompletionResponse", response)
    assert caught.value.errors == [("$.choices[0].message", "'refusal' is a required property")]


def test_chat_completion_without_logprobs_fails() -> None:
    response = chat_completion()
    del response["choices"][0]["logprobs"]
    with pytest.raises(SpecViolation, match="'logprobs' is a required property"):
        validate("CreateChatCompletionResponse", response)


def test_chat_completion_finish_reason_is_not_nullable() -> None:
    # Only the stream chunk's finish_reason is nullable; a whole response must say why it ended.
    response = chat_completion()
    response["choices"][0]["finish_reason"] = None
    with pytest.raises(SpecViolation, match=r"\$\.choices\[0\]\.finish_reason"):
        validate("CreateChatCompletionResponse", response)


def test_every_error_is_listed() -> None:
    response = chat_completion()
    del response["choices"][0]["message"]["refusal"]
    response["object"] = "chat.completion.chunk"
    response["usage"]["total_tokens"] = "7"
    with pytest.raises(SpecViolation) as caught:
        validate("CreateChatCompletionResponse", response)
    paths = [path for path, _ in caught.value.errors]
    assert paths == ["$.choices[0].message", "$.object", "$.usage.total_tokens"]
    assert "3 violation(s)" in str(caught.value)


def test_stream_chunk_with_null_finish_reason_passes() -> None:
    validate_chat_chunk(chunk())


def test_stream_chunk_nullable_enum_still_checks_values() -> None:
    bad = chunk()
    bad["choices"][0]["finish_reason"] = "done"
    with pytest.raises(SpecViolation, match="finish_reason"):
        validate_chat_chunk(bad)
    good = chunk()
    good["choices"][0]["finish_reason"] = "length"
    validate_chat_chunk(good)


def test_stream_chunk_usage_null_and_final_usage_chunk_pass() -> None:
    with_null_usage = chunk()
    with_null_usage["usage"] = None  # `usage` is a nullable $ref
    validate_chat_chunk(with_null_usage)
    last = chunk()
    last["choices"] = []
    last["usage"] = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    validate_chat_chunk(last)
    last["usage"] = {"prompt_tokens": 5}
    with pytest.raises(SpecViolation, match="completion_tokens"):
        validate_chat_chunk(last)


def test_stream_chunk_nullable_logprobs_object() -> None:
    logprobs = chunk()
    logprobs["choices"][0]["logprobs"] = {"content": None, "refusal": None}
    validate_chat_chunk(logprobs)
    logprobs["choices"][0]["logprobs"] = {"content": None}
    with pytest.raises(SpecViolation, match="refusal"):
        validate_chat_chunk(logprobs)


def embeddings(embedding: object) -> dict[str, Any]:
    return {
        "object": "list",
        "model": "bge",
        "data": [{"object": "embedding", "index": 0, "embedding": embedding}],
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }


def test_embedding_float_array_passes() -> None:
    validate("CreateEmbeddingResponse", embeddings([0.1, -0.2, 3]))


def test_embedding_base64_string_fails() -> None:
    # The SDK asks for base64 by default, yet the schema says a number array.
    with pytest.raises(SpecViolation, match=r"\$\.data\[0\]\.embedding.*not of type 'array'"):
        validate("CreateEmbeddingResponse", embeddings("AACAPwAAAEA=" * 1000))


def test_error_response_passes() -> None:
    error = {"message": "x", "type": "invalid_request_error", "param": None, "code": None}
    validate("ErrorResponse", {"error": error})
    del error["param"]
    with pytest.raises(SpecViolation, match="'param' is a required property"):
        validate("ErrorResponse", {"error": error})


def test_list_models_response_passes() -> None:
    models: dict[str, Any] = {
        "object": "list",
        "data": [
            {"id": "qwen", "object": "model", "created": 1686935002, "owned_by": "multai"},
            {"id": "bge", "object": "model", "created": 0, "owned_by": "multai"},
        ],
    }
    validate("ListModelsResponse", models)
    models["data"][0]["object"] = "list"
    with pytest.raises(SpecViolation, match=r"\$\.data\[0\]\.object"):
        validate("ListModelsResponse", models)


def test_unknown_schema_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="NoSuchSchema"):
        validate("NoSuchSchema", {})


def test_spec_path_default_and_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(openai_spec.ENV_VAR, raising=False)
    found = openai_spec.spec_path()
    assert found.parts[-3:] == ("shared", "openai-openapi", "openapi.yaml")
    monkeypatch.setenv(openai_spec.ENV_VAR, str(found))
    assert openai_spec.spec_path() == found
    monkeypatch.setenv(openai_spec.ENV_VAR, str(tmp_path / "missing.yaml"))
    with pytest.raises(FileNotFoundError, match=openai_spec.ENV_VAR):
        openai_spec.spec_path()


def test_loaded_spec_has_no_openapi_30_leftovers() -> None:
    schemas = openai_spec.load_spec()["components"]["schemas"]
    text = repr(schemas)
    assert "'nullable'" not in text
    assert "$recursiveRef" not in text
    assert "CreateChatCompletionStreamResponse" in openai_spec.schema_names()


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer", "nullable": True}, {"type": ["integer", "null"]}),
        (
            {"type": "string", "enum": ["a", "b"], "nullable": True},
            {"type": ["string", "null"], "enum": ["a", "b", None]},
        ),
        ({"enum": ["a"], "nullable": True}, {"enum": ["a", None]}),
        (
            {"$ref": "#/components/schemas/X", "nullable": True},
            {"anyOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]},
        ),
        (
            {"oneOf": [{"type": "string"}], "nullable": True},
            {"anyOf": [{"oneOf": [{"type": "string"}]}, {"type": "null"}]},
        ),
        (
            {"allOf": [{"$ref": "#/components/schemas/X"}, {"nullable": True}]},
            {"anyOf": [{"allOf": [{"$ref": "#/components/schemas/X"}]}, {"type": "null"}]},
        ),
        ({"description": "anything", "nullable": True}, {"description": "anything"}),
        ({"anyOf": [{"type": "string"}], "nullable": False}, {"anyOf": [{"type": "string"}]}),
        (
            {"type": "number", "minimum": 0, "exclusiveMinimum": True},
            {"type": "number", "exclusiveMinimum": 0},
        ),
        (
            {"type": "number", "maximum": 2, "exclusiveMaximum": False},
            {"type": "number", "maximum": 2},
        ),
        (
            {"type": "object", "properties": {"nullable": {"type": "string", "nullable": True}}},
            {"type": "object", "properties": {"nullable": {"type": ["string", "null"]}}},
        ),
        ({"items": {"$recursiveRef": "#"}}, {"items": {"$ref": "#/components/schemas/Filter"}}),
    ],
)
def test_normalise(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert openai_spec._normalise(schema, "Filter") == expected
