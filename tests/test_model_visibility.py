"""A key limited to some models sees only those in GET /v1/models; any other id answers 404 as
if it did not exist. Listed means usable: the rule is the one serving enforces."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI

from multai_core.config import ApiKeyEntry, Config, ServerConfig
from multai_core.plugin_api import ModelSpec
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin

MODELS = [
    ModelSpec(name="echo", backend="echo", aliases=("echo-alias",)),
    ModelSpec(name="slow", backend="echo"),
    ModelSpec(name="tiny", backend="echo", aliases=("tiny-a", "tiny-b")),
]
ALL_IDS = {"echo", "echo-alias", "slow", "tiny", "tiny-a", "tiny-b"}
KEYS = {
    "sk-all": None,
    "sk-echo": ["echo"],
    "sk-alias": ["tiny-a"],  # an alias names its model, and so all the model's other names
    "sk-none": [],
}
VISIBLE = {
    "sk-all": ALL_IDS,
    "sk-echo": {"echo", "echo-alias"},
    "sk-alias": {"tiny", "tiny-a", "tiny-b"},
    "sk-none": set(),
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    keys: list[str | ApiKeyEntry] = [
        ApiKeyEntry(name=key, key=key, models=models) for key, models in KEYS.items()
    ]
    with make_server(EchoPlugin(MODELS), Config(server=ServerConfig(api_keys=keys))) as base:
        yield base


def _client(base_url: str, key: str) -> OpenAI:
    return OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)


@pytest.mark.parametrize("key", KEYS)
def test_the_list_holds_only_the_keys_models(base_url: str, key: str) -> None:
    assert {model.id for model in _client(base_url, key).models.list()} == VISIBLE[key]


@pytest.mark.parametrize("key", KEYS)
def test_a_hidden_model_is_a_404_like_an_absent_one(base_url: str, key: str) -> None:
    client = _client(base_url, key)
    for name in sorted(VISIBLE[key]):
        assert client.models.retrieve(name).id == name
    with pytest.raises(openai.NotFoundError) as absent:
        client.models.retrieve("no-such-model")
    for name in sorted(ALL_IDS - VISIBLE[key]):
        with pytest.raises(openai.NotFoundError) as hidden:
            client.models.retrieve(name)
        assert hidden.value.body == _renamed(absent.value.body, "no-such-model", name)


@pytest.mark.parametrize("key", KEYS)
def test_usable_exactly_when_listed(base_url: str, key: str) -> None:
    for name in sorted(ALL_IDS):
        chat = httpx.post(
            f"{base_url}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": name, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert chat.status_code == (200 if name in VISIBLE[key] else 404), (name, chat.text)


def _renamed(body: object, old: str, new: str) -> object:
    assert isinstance(body, dict)
    return {k: v.replace(old, new) if isinstance(v, str) else v for k, v in body.items()}
