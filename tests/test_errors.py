"""Bad input gets OpenAI's error shape and the right status, and the server keeps answering."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI

from multai_core.config import Config, ServerConfig
from multai_core.testing.openai_spec import validate
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def small_server() -> Iterator[str]:
    config = Config(server=ServerConfig(max_body_bytes=4096, api_keys=["sk-right"]))
    with make_server(EchoPlugin(), config) as base_url:
        yield base_url


def _post(base: str, body: bytes, key: str = "sk-right") -> httpx.Response:
    return httpx.post(
        f"{base}/v1/chat/completions",
        content=body,
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
    )


@pytest.mark.parametrize(
    ("body", "status", "param", "fragment"),
    [
        (b"{not json", 400, None, "malformed"),
        (b"", 400, None, "empty"),
        (b"[1, 2]", 400, None, "Expected `object`"),
        (b'{"model": "echo"}', 400, "messages", "missing required field `messages`"),
        (b'{"model": "echo", "messages": []}', 400, "messages", "length >= 1"),
        (b'{"model": "echo", "messages": "hi"}', 400, "messages", "Expected `array`"),
        (
            b'{"model": "echo", "messages": [{"role": "user", "content": "x"}], "temperature": 5}',
            400,
            "temperature",
            "<= 2.0",
        ),
        (
            b'{"model": "echo", "messages": [{"role": "user", "content": "x"}], "max_tokens": "ten"}',
            400,
            "max_tokens",
            "Expected `int",
        ),
        # types are strict, as at OpenAI: Litestar alone converts 0 to false and "5" to 5
        (
            b'{"model": "echo", "messages": [{"role": "user", "content": "x"}], "stream": 0}',
            400,
            "stream",
            "Expected `bool",
        ),
        (
            b'{"model": "echo", "messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}',
            400,
            "max_tokens",
            "Expected `int",
        ),
        (
            b'{"model": "echo", "messages": [{"role": "user", "content": "x"}], "logprobs": 1}',
            400,
            "logprobs",
            "Expected `bool",
        ),
        (
            b'{"model": "echo", "messages": [{"role": "wizard", "content": "x"}]}',
            400,
            "messages[0].role",
            "wizard",
        ),
        (
            b'{"model": "echo", "messages": [{"role": "user", "content": "x"}], "priority": 7}',
            400,
            "priority",
            "<= 2",
        ),
        (
            b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}',
            404,
            "model",
            "does not exist",
        ),
        (
            b'{"model": "echo", "messages": [{"role": "user", "content": "too long"}]}',
            400,
            "messages",
            "too long",
        ),
        (
            b'{"model": "echo", "messages": [{"role": "user", "content": "' + b"x" * 5000 + b'"}]}',
            413,
            None,
            "at most 4096 bytes; the limit is [server].max_body_bytes",
        ),
    ],
)
def test_bad_input_is_an_openai_error(
    small_server: str, body: bytes, status: int, param: str | None, fragment: str
) -> None:
    response = _post(small_server, body)
    assert response.status_code == status, response.text
    payload = response.json()
    validate("ErrorResponse", payload)
    assert payload["error"]["param"] == param
    assert fragment in payload["error"]["message"]
    assert "Traceback" not in response.text
    # and the server still answers
    assert (
        _post(
            small_server, b'{"model": "echo", "messages": [{"role": "user", "content": "ok"}]}'
        ).status_code
        == 200
    )


def test_an_integral_float_is_an_integer(small_server: str) -> None:
    """JSON Schema calls 2.0 an integer; clients that build JSON from floats send it."""
    r = _post(
        small_server, b'{"model": "echo", "messages": [{"role": "user", "content": "x"}], "n": 2.0}'
    )
    assert r.status_code == 200, r.text


def test_context_length_code(small_server: str) -> None:
    response = _post(
        small_server, b'{"model": "echo", "messages": [{"role": "user", "content": "too long"}]}'
    )
    assert response.json()["error"]["code"] == "context_length_exceeded"


def test_wrong_or_missing_key_is_401(small_server: str) -> None:
    wrong = OpenAI(base_url=f"{small_server}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        wrong.chat.completions.create(model="echo", messages=USER)  # type: ignore[arg-type]
    assert info.value.status_code == 401
    assert info.value.body["code"] == "invalid_api_key"  # type: ignore[index]
    missing = httpx.get(f"{small_server}/v1/models")
    assert missing.status_code == 401
    validate("ErrorResponse", missing.json())
    right = OpenAI(base_url=f"{small_server}/v1", api_key="sk-right", max_retries=0)
    assert (
        right.chat.completions.create(model="echo", messages=USER).choices[0].message.content
        == "hi"
    )  # type: ignore[arg-type]
    assert httpx.get(f"{small_server}/health").status_code == 200  # no key needed


def test_sdk_sees_typed_errors(small_server: str) -> None:
    client = OpenAI(base_url=f"{small_server}/v1", api_key="sk-right", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="missing", messages=USER)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="echo", messages=USER, temperature=5)  # type: ignore[arg-type]


def test_unknown_route_and_method(small_server: str) -> None:
    assert httpx.get(f"{small_server}/v1/nothing-here").status_code == 404
    response = httpx.delete(f"{small_server}/health")
    assert response.status_code == 405
    validate("ErrorResponse", response.json())


@pytest.mark.parametrize("trigger", [b"boom-early", b"exit-early"])
def test_plugin_failure_is_500_and_server_survives(small_server: str, trigger: bytes) -> None:
    response = _post(
        small_server,
        b'{"model": "echo", "messages": [{"role": "user", "content": "%s"}]}' % trigger,
    )
    assert response.status_code == 500
    assert response.headers["x-should-retry"] == "false"
    validate("ErrorResponse", response.json())
    assert "secret plugin failure" not in response.text
    assert (
        _post(
            small_server, b'{"model": "echo", "messages": [{"role": "user", "content": "fine"}]}'
        ).status_code
        == 200
    )


def test_failure_mid_stream_is_a_last_error_event(small_server: str) -> None:
    client = OpenAI(base_url=f"{small_server}/v1", api_key="sk-right", max_retries=0)
    stream = client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "one boom"}], stream=True
    )
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    assert received  # the stream had started
    raw = _post(
        small_server,
        b'{"model": "echo", "stream": true, "messages": [{"role": "user", "content": "one boom"}]}',
    )
    assert "[DONE]" not in raw.text
    assert '"type":"server_error"' in raw.text


def test_unknown_fields_are_ignored(small_server: str) -> None:
    response = _post(
        small_server,
        b'{"model": "echo", "messages": [{"role": "user", "content": "x"}], "new_openai_field": {"a": 1}}',
    )
    assert response.status_code == 200
