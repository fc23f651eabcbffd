"""A node that dies mid-trace takes no request with it: each one is answered once, with its
answer or a documented 503, and the replica Serve starts elsewhere serves the rest."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import ray
from conftest import KEY, NODE, RayServer
from ray.util.state import list_actors

ENGINE_ACTOR = "ServeReplica:multai:MultaiEngine"
REQUESTS = 40


def engine_nodes() -> set[str]:
    actors = list_actors(filters=[("class_name", "=", ENGINE_ACTOR), ("state", "=", "ALIVE")])
    return {a.node_id for a in actors}


def ask(server: RayServer, index: int) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {KEY}", "x-request-id": f"failover-{index}"},
        json={
            "model": "smollm2",
            "messages": [{"role": "user", "content": f"Say a word about {index}."}],
            "max_tokens": 6,
        },
        timeout=180,
    )


def test_killing_a_node_loses_no_request(ray_server: RayServer) -> None:
    cluster = ray_server.cluster
    spare = cluster.add_node(**NODE)  # where Serve may start the lost replica again
    cluster.wait_for_nodes()
    [doomed] = [n for n in cluster.worker_nodes if n is not spare and n.node_id in engine_nodes()]
    started = threading.Event()

    def send(index: int) -> httpx.Response:
        if index == REQUESTS // 4:
            started.set()
        return ask(ray_server, index)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = pool.map(send, range(REQUESTS))
        assert started.wait(120)
        cluster.remove_node(doomed, allow_graceful=False)
        results = list(answers)
    statuses = [r.status_code for r in results]
    assert len(results) == REQUESTS
    assert set(statuses) <= {200, 503}, statuses
    for response in results:
        if response.status_code == 503:
            error = response.json()["error"]
            assert error["type"] == "server_error" and "retry" in error["message"], error
        else:
            assert response.json()["choices"][0]["message"]["content"] is not None
    assert statuses.count(200) >= REQUESTS // 2, statuses
    # Serve starts the lost replica on the spare node, and the app serves again
    # (Ray's state API may list the dead node's replica as alive for a moment)
    deadline = time.monotonic() + 120
    nodes = engine_nodes()
    while (len(nodes) != 2 or doomed.node_id in nodes) and time.monotonic() < deadline:
        time.sleep(1)
        nodes = engine_nodes()
    assert len(nodes) == 2 and doomed.node_id not in nodes, nodes
    assert ask(ray_server, REQUESTS).status_code == 200
    assert ray.is_initialized()
