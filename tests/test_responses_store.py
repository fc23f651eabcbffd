"""Stored responses through the SDK: previous_response_id, retrieve, input_items, delete, a
server restart, another key's 404, and store=false."""

from __future__ import annotations

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

KEYS = ["key-alice", "key-bob"]


def _config(data_dir: Path, **server: object) -> Config:
    return Config(server=ServerConfig(api_keys=list(KEYS), data_dir=str(data_dir), **server))  # type: ignore[arg-type]


def _client(base_url: str, key: str = KEYS[0]) -> OpenAI:
    return OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)


@pytest.fixture
def stored_server(echo_plugin: EchoPlugin, tmp_path: Path) -> Iterator[str]:
    with make_server(echo_plugin, _config(tmp_path)) as base_url:
        yield base_url


def _plain(model: object) -> object:
    return model.model_dump(mode="json", exclude_unset=True, by_alias=True)  # type: ignore[attr-defined]


def test_retrieve_and_input_items(stored_server: str) -> None:
    client = _client(stored_server)
    made = client.responses.create(model="echo", input="keep this", metadata={"k": "v"})
    assert made.store is True
    again = client.responses.retrieve(made.id)
    assert again.id == made.id and again.output_text == "keep this"
    assert again.metadata == {"k": "v"}
    validate("Response", _plain(again))
    items = client.responses.input_items.list(made.id)
    assert len(items.data) == 1
    item = items.data[0]
    assert item.type == "message" and item.role == "user"
    validate("ResponseItemList", _plain(items))
    auth = {"authorization": f"Bearer {KEYS[0]}"}
    r = httpx.get(f"{stored_server}/v1/responses/{made.id}/input_items?limit=0", headers=auth)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_previous_response_id_continues_the_conversation(stored_server: str) -> None:
    client = _client(stored_server)
    first = client.responses.create(model="echo", input="alpha", instructions="first rules")
    second = client.responses.create(
        model="echo",
        previous_response_id=first.id,
        input=[{"role": "user", "content": "beta gamma"}],
    )
    assert second.previous_response_id == first.id
    assert second.output_text == "beta gamma"
    # with no new input, the echo model answers the last turn it sees: the first answer
    third = client.responses.create(model="echo", previous_response_id=first.id, input=[])
    assert third.output_text == "alpha"
    only_own = client.responses.input_items.list(second.id, order="asc")
    assert [i.type for i in only_own.data] == ["message"]


def test_stream_is_stored_too(stored_server: str) -> None:
    client = _client(stored_server)
    events = list(client.responses.create(model="echo", input="x y", stream=True))
    final = events[-1]
    assert final.type == "response.completed"
    assert client.responses.retrieve(final.response.id).output_text == "x y"


def test_another_key_gets_404(stored_server: str) -> None:
    alice, bob = _client(stored_server), _client(stored_server, KEYS[1])
    made = alice.responses.create(model="echo", input="private")
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.input_items.list(made.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model="echo", input="x", previous_response_id=made.id)
    assert alice.responses.retrieve(made.id).output_text == "private"


def test_deleted_and_unknown_are_404(stored_server: str) -> None:
    client = _client(stored_server)
    made = client.responses.create(model="echo", input="soon gone")
    client.responses.delete(made.id)
    for missing in (made.id, "resp_unknown"):
        with pytest.raises(openai.NotFoundError) as caught:
            client.responses.create(model="echo", input="x", previous_response_id=missing)
        assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(missing)
    r = httpx.delete(
        f"{stored_server}/v1/responses/{made.id}",
        headers={"authorization": f"Bearer {KEYS[0]}"},
    )
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"


def test_store_false_keeps_nothing(stored_server: str) -> None:
    client = _client(stored_server)
    made = client.responses.create(model="echo", input="ephemeral", store=False)
    assert made.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)


def test_stored_responses_survive_a_restart(echo_plugin: EchoPlugin, tmp_path: Path) -> None:
    with make_server(echo_plugin, _config(tmp_path)) as base_url:
        made = _client(base_url).responses.create(model="echo", input="still here")
    assert (tmp_path / "responses.sqlite3").is_file()
    with make_server(echo_plugin, _config(tmp_path)) as base_url:
        client = _client(base_url)
        assert client.responses.retrieve(made.id).output_text == "still here"
        follow = client.responses.create(
            model="echo", input="and more", previous_response_id=made.id
        )
        assert follow.output_text == "and more"


def test_retention_deletes_old_responses(echo_plugin: EchoPlugin, tmp_path: Path) -> None:
    with make_server(echo_plugin, _config(tmp_path, responses_retention_s=0.0)) as base_url:
        client = _client(base_url)
        made = client.responses.create(model="echo", input="short lived")
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(made.id)
