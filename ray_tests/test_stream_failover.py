"""A stream whose engine replica dies after it began ends with the documented error event
(``replica_lost``, no ``[DONE]``), and the SDK raises on it; Serve starts the replica again."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
import ray
from conftest import KEY, RayServer
from ray.util.state import list_actors

ENGINE_ACTOR = "ServeReplica:multai:MultaiEngine"
LONG_ANSWER = {
    "model": "smollm2",
    "messages": [{"role": "user", "content": "Write a long story about a lighthouse keeper."}],
    "max_tokens": 1500,
    "temperature": 0.8,
    "stream": True,
}


def engines() -> list[str]:
    actors = list_actors(filters=[("class_name", "=", ENGINE_ACTOR), ("state", "=", "ALIVE")])
    return [a.name for a in actors]


def kill_every_engine() -> None:
    """The replica answering is among them; Serve starts each again."""
    for name in engines():
        ray.kill(ray.get_actor(name, namespace="serve"), no_restart=True)


def wait_for_engines(count: int) -> None:
    deadline = time.monotonic() + 120
    while len(engines()) < count and time.monotonic() < deadline:
        time.sleep(1)
    assert len(engines()) >= count


def test_a_stream_whose_replica_dies_ends_with_the_error_event(ray_server: RayServer) -> None:
    before = len(engines())
    events: list[str] = []
    with httpx.stream(
        "POST",
        f"{ray_server.base_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {KEY}"},
        json=LONG_ANSWER,
        timeout=180,
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            events.append(line[6:])
            if len(events) == 3:  # the answer has begun
                kill_every_engine()
    assert len(events) > 3 and "[DONE]" not in events
    error = json.loads(events[-1])["error"]
    assert error["code"] == "replica_lost" and error["type"] == "server_error", error
    assert "retry" in error["message"]
    assert all("choices" in json.loads(e) for e in events[:-1])
    wait_for_engines(before)


def test_the_sdk_raises_on_it(ray_server: RayServer) -> None:
    client = ray_server.client()
    stream = client.chat.completions.create(**LONG_ANSWER)
    with pytest.raises(openai.APIError, match="replica"):
        for index, _chunk in enumerate(stream):
            if index == 2:
                kill_every_engine()
    wait_for_engines(2)
    answer = client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=3
    )
    assert answer.choices[0].message.content is not None
