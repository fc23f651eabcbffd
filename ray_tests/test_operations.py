"""/v1/ps, /v1/queue and /metrics at the ingress gather every engine replica's."""

from __future__ import annotations

import threading

import httpx
from conftest import KEY, RayServer, until
from openai import OpenAI

HEADERS = {"authorization": f"Bearer {KEY}"}


def get(server: RayServer, path: str) -> httpx.Response:
    response = httpx.get(f"{server.base_url}{path}", headers=HEADERS, timeout=30)
    assert response.status_code == 200, response.text
    return response


def test_ps_shows_the_model_a_replica_loaded(ray_server: RayServer, client: OpenAI) -> None:
    client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=2
    )

    def resident() -> bool:
        listed = get(ray_server, "/v1/ps").json()
        return any(m["id"] == "smollm2-135m-instruct" for m in listed["data"])

    until(resident)


def test_metrics_label_each_engine(ray_server: RayServer, client: OpenAI) -> None:
    client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=2
    )
    until(lambda: 'multai_model_loads_total{engine="' in get(ray_server, "/metrics").text)
    text = get(ray_server, "/metrics").text
    engines = {
        line.split('engine="', 1)[1].split('"', 1)[0]
        for line in text.splitlines()
        if 'engine="' in line
    }
    assert "ingress" in engines and len(engines) == 3, engines  # the ingress and two replicas


def test_queue_shows_a_running_request(ray_server: RayServer, client: OpenAI) -> None:
    done = threading.Event()

    def long_answer() -> None:
        client.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": "Tell a long story."}],
            max_tokens=200,
            temperature=0,  # greedy, the story runs past 200 tokens; a sampled one may end early
            extra_headers={"x-request-id": "ray-queue-probe"},
        )
        done.set()

    threading.Thread(target=long_answer, daemon=True).start()

    def listed() -> bool:
        queue = get(ray_server, "/v1/queue").json()
        return any(e["id"] == "ray-queue-probe" for e in queue["data"]) or done.is_set()

    until(listed)
    assert not done.is_set(), "the answer ended before the queue showed it"
    entry = get(ray_server, "/v1/queue/ray-queue-probe").json()
    assert entry["status"] in ("queued", "running")
    assert done.wait(120)
