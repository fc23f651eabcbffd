"""Replica groups: a model that a ``[[ray.groups]]`` entry names is served by that group's own
replicas only, and every other model by the command line's; through a second MultAI
application (no keys) beside the test server's."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from conftest import RayServer, until
from openai import OpenAI
from ray import serve

from multai_core.config import Config, RayConfig, ReplicaGroup, ServerConfig
from multai_core.plugin_api.types import ModelSpec
from multai_core.ray_serve.deploy import ENGINE, RayOptions, application
from multai_core.ray_serve.ingress import unserved_group_models

APP = "multai-groups-test"
PREFIX = "/groups"
LOADS = re.compile(r"^multai_model_loads_total\{(?P<labels>[^}]*)\} (?P<count>\S+)$")


@pytest.fixture(scope="module")
def grouped(ray_server: RayServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from multai_llamacpp.default_model import find_smollm2_gguf

    gguf = str(find_smollm2_gguf())
    config = Config(
        server=ServerConfig(data_dir=str(tmp_path_factory.mktemp("groups"))),
        default_models=False,
        models=[
            ModelSpec(name="chat-a", backend="llamacpp", path=gguf),
            ModelSpec(name="chat-b", backend="llamacpp", path=gguf, aliases=("b",)),
        ],
        # no CPUs asked: the test server's replicas hold the cluster's
        ray=RayConfig(groups=[ReplicaGroup(name="bee", models=["b"], cpus=0)]),
    )
    serve.run(application(config, RayOptions(replica_cpus=0)), name=APP, route_prefix=PREFIX)
    yield f"{ray_server.base_url}{PREFIX}"
    serve.delete(APP)


def loads(base_url: str) -> dict[tuple[str, str], float]:
    """Model loads by (engine, model), from the ingress's /metrics."""
    found = {}
    for line in httpx.get(f"{base_url}/metrics", timeout=30).text.splitlines():
        match = LOADS.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
            found[labels["engine"], labels["model"]] = float(match["count"])
    return found


def test_a_group_s_models_go_to_its_own_replicas(grouped: str) -> None:
    client = OpenAI(base_url=f"{grouped}/v1", api_key="-", max_retries=0, timeout=120)
    for model in ("chat-b", "chat-a", "b", "chat-a"):  # "b": the group names an alias
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=2
        )
        assert reply.choices[0].message.content is not None
    until(lambda: {model for _, model in loads(grouped)} == {"chat-a", "chat-b"})
    engines = {model: engine.split("/", 1)[0] for engine, model in loads(grouped)}
    assert engines == {"chat-a": ENGINE, "chat-b": f"{ENGINE}-bee"}
    assert sorted(loads(grouped).values()) == [1.0, 1.0]  # each loaded once, where it stays


def test_a_group_naming_no_served_model_is_reported() -> None:
    groups = [
        ReplicaGroup(name="chat", models=["chat-a", "b"]),
        ReplicaGroup(name="later", models=["chat-x", "whisper-1"]),
    ]
    served = [
        ModelSpec(name="chat-a", backend="llamacpp"),
        ModelSpec(name="chat-b", backend="llamacpp", aliases=("b",)),
    ]
    config = Config(ray=RayConfig(groups=groups))
    assert unserved_group_models(config, served) == [("later", "chat-x"), ("later", "whisper-1")]
