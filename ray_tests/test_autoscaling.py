"""Autoscaling on queue depth (``--max-replicas``): a second MultAI application beside the test
server's, under its own route prefix, grows from one engine replica to two while requests
queue, and answers every request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import RayServer
from openai import OpenAI
from ray import serve

from multai_core.config import Config, ServerConfig
from multai_core.plugin_api.types import ModelSpec
from multai_core.ray_serve.deploy import RayOptions, application

APP = "multai-autoscaling-test"
PREFIX = "/scaling"
MODEL = "smollm2-scaling"
REQUESTS = 6


@pytest.fixture(scope="module")
def scaling(ray_server: RayServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAI]:
    from multai_llamacpp.default_model import find_smollm2_gguf

    spec = ModelSpec(name=MODEL, backend="llamacpp", path=str(find_smollm2_gguf()))
    config = Config(
        server=ServerConfig(data_dir=str(tmp_path_factory.mktemp("scaling"))),
        default_models=False,
        models=[spec],
    )
    # no CPUs asked: the test server's replicas hold the cluster's
    options = RayOptions(
        replicas=1, max_replicas=2, target_queue=1, upscale_delay_s=1.0, replica_cpus=0
    )
    serve.run(application(config, options), name=APP, route_prefix=PREFIX)
    yield OpenAI(base_url=f"{ray_server.base_url}{PREFIX}/v1", api_key="-", max_retries=0)
    serve.delete(APP)


def running_replicas() -> int:
    deployment = serve.status().applications[APP].deployments["MultaiEngine"]
    return int(deployment.replica_states.get("RUNNING", 0))


def test_replicas_grow_while_requests_queue(scaling: OpenAI) -> None:
    assert running_replicas() == 1

    def ask(index: int) -> str:
        answer = scaling.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": f"Tell a story about {index}."}],
            max_tokens=200,
            timeout=300,
        )
        return answer.choices[0].message.content or ""

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        answers = pool.map(ask, range(REQUESTS))
        deadline = time.monotonic() + 60
        while running_replicas() < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert running_replicas() == 2
        texts = list(answers)
    assert len(texts) == REQUESTS and all(texts)
