"""A Ray cluster of two one-CPU nodes simulated on this machine (ray.cluster_utils.Cluster), with
MultAI deployed on it as `multai serve --ray` deploys it: the ingress and two engine replicas,
one per node. Three models (SmolLM2, the same GGUF under a second name, Whisper base) and a RAM
budget that holds one of them per replica. Everything binds to loopback."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from openai import OpenAI
from ray import serve
from ray.cluster_utils import Cluster

from multai_core.config import Config, MemoryConfig, ServerConfig
from multai_core.plugin_api.types import ModelSpec
from multai_core.ray_serve.deploy import (
    APP_NAME,
    LOOPBACK,
    RayOptions,
    application,
    start_serve,
)
from multai_core.ray_serve.simulated import ONE_CPU_NODE, simulated_cluster
from multai_core.testing.fake_hub import FakeHub
from multai_core.testing.server import free_port, wait_until_healthy

KEY = "sk-ray-test"
NODE = ONE_CPU_NODE
SECOND_CHAT = "smollm2-b"
ONE_MODEL_BUDGET = 750 * 1024 * 1024  # SmolLM2 takes 530 MB on these machines, Whisper 700


@dataclass(frozen=True)
class RayServer:
    cluster: Cluster
    base_url: str

    def client(self, key: str = KEY) -> OpenAI:
        return OpenAI(base_url=f"{self.base_url}/v1", api_key=key, max_retries=0, timeout=120)


def deploy(config: Config, options: RayOptions) -> str:
    port = free_port()
    start_serve(LOOPBACK, port)
    serve.run(application(config, options), name=APP_NAME, route_prefix="/")
    base_url = f"http://{LOOPBACK}:{port}"
    wait_until_healthy(base_url, timeout=60)
    return base_url


@pytest.fixture(scope="session")
def hub() -> Iterator[FakeHub]:
    """A hub on loopback for the pulls made through the cluster."""
    with FakeHub() as fake:
        yield fake


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, hub: FakeHub) -> Iterator[Cluster]:
    # the cluster's processes start with this environment: their pull workers use the fake hub
    os.environ["HF_ENDPOINT"] = hub.url
    os.environ["HF_HOME"] = str(tmp_path_factory.mktemp("hf-home"))
    with simulated_cluster(tmp_path_factory.mktemp("ray-home")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def ray_server(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> RayServer:
    return RayServer(cluster, deploy(three_models(tmp_path_factory), RayOptions(replicas=2)))


def three_models(tmp_path_factory: pytest.TempPathFactory) -> Config:
    from multai_llamacpp.default_model import find_smollm2_gguf

    gguf = find_smollm2_gguf()
    assert gguf is not None, "the llamacpp plugin's default model is installed in this session"
    return Config(
        server=ServerConfig(api_keys=[KEY], data_dir=str(tmp_path_factory.mktemp("data"))),
        memory=MemoryConfig(ram_budget_bytes=ONE_MODEL_BUDGET, ram_reserve_bytes=0),
        models=[ModelSpec(name=SECOND_CHAT, backend="llamacpp", path=str(gguf))],
    )


@pytest.fixture(scope="session")
def client(ray_server: RayServer) -> OpenAI:
    return ray_server.client()


def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("not within the time the replicas take to post")
