"""A pull at the ingress fills every node's model store, and a delete empties them: through a
second MultAI application (no keys: every caller is an admin) and through the node stores
directly, with a fake hub on loopback that the cluster's processes were started aimed at."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from conftest import KEY, RayServer, until
from openai import OpenAI
from ray import serve
from ray.exceptions import RaySystemError

from multai_core.config import Config, ServerConfig
from multai_core.ray_serve import stores
from multai_core.ray_serve.deploy import RayOptions, application
from multai_core.ray_serve.stores import NodeStores, other_nodes
from multai_core.store.manifest import ModelStore
from multai_core.store.mirror import relative_path
from multai_core.store.preflight import Assessment
from multai_core.store.pull import PullOptions, pull
from multai_core.testing.fake_hub import FakeHub

APP = "multai-pull-test"
PREFIX = "/pulls"
REPO = "acme/Tiny-GGUF"
HEADERS = {"authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def gguf() -> bytes:
    """SmolLM2 (94 MB): a model the replicas can load once it is pulled."""
    from multai_llamacpp.default_model import find_smollm2_gguf

    return Path(str(find_smollm2_gguf())).read_bytes()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pulled")


@pytest.fixture(scope="module")
def pulls(ray_server: RayServer, hub: FakeHub, models: Path, gguf: bytes) -> Iterator[str]:
    """The second application's base URL: no models of its own, the pulled ones in ``models``."""
    hub.add_commit(REPO, {"tiny-Q4_K_M.gguf": gguf})
    config = Config(server=ServerConfig(models_dir=str(models)), default_models=False)
    # no CPUs asked: the test server's replicas hold the cluster's
    serve.run(application(config, RayOptions(replica_cpus=0)), name=APP, route_prefix=PREFIX)
    yield f"{ray_server.base_url}{PREFIX}"
    serve.delete(APP)


def pull_events(base_url: str, body: dict[str, object]) -> list[dict[str, object]]:
    events = []
    with httpx.stream("POST", f"{base_url}/v1/models/pull", json=body, timeout=120) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: {"):
                events.append(json.loads(line[len("data: ") :]))
    return events


def test_a_pull_at_the_ingress_reaches_every_node(
    ray_server: RayServer, pulls: str, models: Path
) -> None:
    events = pull_events(pulls, {"model": REPO, "name": "tiny", "yes": True})
    done = events[-1]
    assert done["status"] == "done", events
    model = done["model"]
    assert isinstance(model, dict) and model["id"] == "tiny"
    # the other node shares this machine's disk: the copy finds the model there already
    (node, _), *rest = other_nodes()
    assert rest == [] and model["nodes"] == {node: "already there"}
    said = [e["message"] for e in events if e["status"] == "progress"]
    assert f"{node}: already there" in said, said
    assert ModelStore(models).get("tiny") is not None

    assert model["served"] is True
    client = OpenAI(base_url=f"{pulls}/v1", api_key="-", max_retries=0, timeout=120)
    assert "tiny" in [m.id for m in client.models.list()]
    reply = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Hi"}], max_tokens=2
    )
    assert reply.model == "tiny"  # a replica loaded it from the pulled file
    until(lambda: "tiny" in resident(pulls))
    assert "tiny" not in resident(ray_server.base_url)  # each application has its own board
    assert client.models.delete("tiny").deleted
    assert ModelStore(models).entries() == []
    until(lambda: "tiny" not in resident(pulls))  # the replica unloaded it, not at keep_alive


def resident(base_url: str) -> list[str]:
    """The models /v1/ps lists (the test server's key; the second application takes any)."""
    listed = httpx.get(f"{base_url}/v1/ps", headers=HEADERS, timeout=30).json()
    return [m["id"] for m in listed["data"]]


def test_another_node_copies_what_this_one_pulled(
    cluster: object,  # noqa: ARG001 (this process is the cluster's driver, on its head node)
    hub: FakeHub,
    gguf: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub.aim_this_process(monkeypatch, tmp_path / "hf-home")
    hub.add_commit(REPO, {"tiny-Q4_K_M.gguf": gguf})
    here = ModelStore(tmp_path / "here")
    model = pull(
        REPO,
        here,
        PullOptions(yes=True),
        assess=lambda _: Assessment("not asked", fits=True),
        confirm=None,
        out=io.StringIO(),
    )
    there = NodeStores(tmp_path / "there")  # as the other node's own disk would be
    relative = relative_path(model, here)
    said: list[str] = []

    (node, _), *_ = other_nodes()
    assert there.copy(model, relative, said.append) == {node: "pulled"}
    assert any(line.startswith(f"{node}: tiny-Q4_K_M.gguf: done") for line in said), said
    copy = ModelStore(tmp_path / "there").get(model.name)
    assert copy is not None and Path(copy.path).read_bytes() == Path(model.path).read_bytes()
    assert there.copy(model, relative, said.append) == {node: "already there"}

    assert there.remove(model.name) == {node: "removed"}
    assert ModelStore(tmp_path / "there").entries() == []
    assert there.remove(model.name) == {node: "not there"}

    gone = msgspec.structs.replace(model, revision="0" * 40)
    (outcome,) = there.copy(gone, relative, said.append).values()
    assert outcome.startswith("failed: ") and "0000000" in outcome, outcome
    assert ModelStore(tmp_path / "there").entries() == []


def test_a_cluster_out_of_reach_is_an_outcome_not_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the ingress has removed its own copy by then: the delete still answers, naming the failure
    def lost() -> list[tuple[str, str]]:
        raise RaySystemError("the GCS is gone")

    monkeypatch.setattr(stores, "other_nodes", lost)
    assert NodeStores(tmp_path).remove("tiny") == {"the other nodes": "failed: RaySystemError"}
