"""background: true through the SDK: a queued job the client polls, and cancel."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from multai_core.config import Config, ServerConfig
from multai_core.testing.openai_spec import validate
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin


@pytest.fixture
def client(echo_plugin: EchoPlugin, tmp_path: Path) -> Iterator[OpenAI]:
    config = Config(server=ServerConfig(data_dir=str(tmp_path)))
    with make_server(echo_plugin, config) as base_url:
        yield OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)


def _poll(client: OpenAI, response_id: str, until: set[str]) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = client.responses.retrieve(response_id).status
        assert status is not None
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in until:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"still {seen} after 30 s")


def test_background_response_is_polled_to_completion(client: OpenAI) -> None:
    words = " ".join(f"w{i}" for i in range(20))
    made = client.responses.create(model="slow", input=words, background=True)
    assert made.status == "queued" and made.background is True
    assert made.output == []
    validate("Response", made.model_dump(mode="json", exclude_unset=True, by_alias=True))
    seen = _poll(client, made.id, {"completed"})
    assert "in_progress" in seen and seen[-1] == "completed"
    done = client.responses.retrieve(made.id)
    assert done.output_text == words and done.usage is not None
    validate("Response", done.model_dump(mode="json", exclude_unset=True, by_alias=True))


def test_cancel_stops_a_background_response(client: OpenAI, echo_plugin: EchoPlugin) -> None:
    words = " ".join(f"w{i}" for i in range(400))  # 20 s at the slow model's pace
    made = client.responses.create(model="slow", input=words, background=True)
    _poll(client, made.id, {"in_progress"})
    cancelled = client.responses.cancel(made.id)
    assert cancelled.status == "cancelled"
    assert cancelled.output[0].type == "message" and cancelled.output[0].status == "incomplete"
    validate("Response", cancelled.model_dump(mode="json", exclude_unset=True, by_alias=True))
    assert client.responses.retrieve(made.id).status == "cancelled"
    assert made.id.removeprefix("resp_") in echo_plugin.cancelled
    # cancelling again answers the same state
    assert client.responses.cancel(made.id).status == "cancelled"


def test_cancel_of_a_foreground_or_unknown_response(client: OpenAI) -> None:
    made = client.responses.create(model="echo", input="done already")
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(made.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_nothing")


def test_background_needs_store_and_no_stream(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="echo", input="x", background=True, store=False)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="echo", input="x", background=True, stream=True)
