"""The thesis's priority levels, cancellation and backpressure, through the real server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from multai_core.config import Config, SchedulerConfig, ServerConfig
from multai_core.engine.memory import MemoryManager
from multai_core.plugin_api.types import ModelSpec
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin

SLOW_WORDS = " ".join(["w"] * 12)  # 12 tokens at 0.05 s: the worker is busy for ~0.6 s


def _plugin() -> EchoPlugin:
    return EchoPlugin(
        [
            ModelSpec(name="echo", backend="echo"),
            ModelSpec(name="other", backend="echo"),
            ModelSpec(name="slow", backend="echo", options={"token_delay": 0.05}),
            ModelSpec(
                name="slow-pair", backend="echo", options={"token_delay": 0.05}, max_concurrency=2
            ),
            ModelSpec(name="broken", backend="echo", options={"fail_load": True}),
            ModelSpec(name="slotted", backend="echo", options={"token_delay": 0.05, "slots": 2}),
        ]
    )


def _chat(
    client: OpenAI, model: str, rid: str, content: str = "x", **extra: Any
) -> Callable[[], Any]:
    def call() -> Any:
        return client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": content}],
            extra_headers={"x-request-id": rid},
            **extra,
        )

    return call


def _run_in_threads(calls: list[Callable[[], Any]], gap: float = 0.05) -> list[threading.Thread]:
    threads = []
    for call in calls:
        thread = threading.Thread(target=call)
        thread.start()
        threads.append(thread)
        time.sleep(gap)  # fixes the arrival order
    return threads


def test_thesis_priority_order() -> None:
    plugin = _plugin()
    with make_server(plugin) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        _chat(client, "echo", "warm")()  # echo is now loaded
        threads = _run_in_threads(
            [
                _chat(client, "slow", "blocker", SLOW_WORDS),
                _chat(client, "echo", "A-p2", service_tier="flex"),  # flex -> priority 2
                _chat(client, "other", "B-p1-unloaded"),
                _chat(client, "echo", "C-p1-loaded"),
                _chat(client, "echo", "D-p0", extra_body={"priority": 0}),
                _chat(client, "slow", "E-p1-loaded"),
            ]
        )
        for thread in threads:
            thread.join(timeout=30)
    assert plugin.started == [
        "warm",
        "blocker",
        "D-p0",  # 0 first
        "C-p1-loaded",  # then 1 for a loaded model, in arrival order
        "E-p1-loaded",
        "B-p1-unloaded",  # then the rest of 1
        "A-p2",  # 2 last
    ]


def test_a_swap_goes_to_the_model_that_serves_most_per_load() -> None:
    """Swap costs reach the queue: with nothing loaded waiting, three requests for one model
    are worth a load before one older request for another (n / (load + n * service))."""
    plugin = _plugin()
    with make_server(plugin) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        threads = _run_in_threads(
            [
                _chat(client, "slow", "blocker", SLOW_WORDS),
                _chat(client, "other", "older-single"),
                _chat(client, "echo", "echo-1"),
                _chat(client, "echo", "echo-2"),
                _chat(client, "echo", "echo-3"),
            ]
        )
        for thread in threads:
            thread.join(timeout=30)
    assert plugin.started == ["blocker", "echo-1", "echo-2", "echo-3", "older-single"]


def test_a_model_with_free_slots_does_not_keep_the_device_from_an_urgent_request() -> None:
    """slow-pair runs two at a time on the one device; with a backlog its slots would never
    all be free at once. An urgent request for another model drains the device instead."""
    plugin = _plugin()
    with make_server(plugin) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        calls = [_chat(client, "slow-pair", f"pair-{i}", SLOW_WORDS) for i in range(6)]
        calls.append(_chat(client, "echo", "urgent", extra_body={"priority": 0}))
        for thread in _run_in_threads(calls, gap=0.03):
            thread.join(timeout=30)
    assert plugin.started.index("urgent") <= 3, plugin.started


def test_a_model_runs_as_many_requests_as_its_backend_has_slots() -> None:
    """The backend says how many requests of a model run at once (llama.cpp's parallel slots)
    when the config leaves max_concurrency unset; once they are full, the next free slot goes
    to the most urgent waiting request of that model."""
    plugin = _plugin()
    with make_server(plugin) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        _chat(client, "slotted", "warm")()
        calls = [
            _chat(client, "slotted", "first", SLOW_WORDS),
            _chat(client, "slotted", "second", SLOW_WORDS),
            _chat(client, "slotted", "p2", service_tier="flex"),
            _chat(client, "slotted", "p1"),
            _chat(client, "slotted", "p0", extra_body={"priority": 0}),
        ]
        for thread in _run_in_threads(calls, gap=0.03):
            thread.join(timeout=30)
    # "second" starts while "first" runs (with one slot, "p0" would have come before it)
    assert plugin.started == ["warm", "first", "second", "p0", "p1", "p2"]


def test_a_request_id_in_use_is_a_409() -> None:
    plugin = _plugin()
    with make_server(plugin) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        (first,) = _run_in_threads([_chat(client, "slow", "same-id", SLOW_WORDS)])
        with pytest.raises(openai.ConflictError) as info:
            _chat(client, "echo", "same-id")()
        first.join(timeout=30)
        assert "same-id" in info.value.message and "X-Request-Id" in info.value.message
        _chat(client, "echo", "same-id")()  # free again once the first is answered
    assert plugin.started == ["same-id", "same-id"]


def test_request_ids_are_per_key() -> None:
    """Another key's id in flight is no 409: that would tell it which ids are in use."""
    plugin = _plugin()
    config = Config(server=ServerConfig(api_keys=["sk-alice", "sk-bob"]))
    with make_server(plugin, config) as base:
        alice = OpenAI(base_url=f"{base}/v1", api_key="sk-alice", max_retries=0)
        bob = OpenAI(base_url=f"{base}/v1", api_key="sk-bob", max_retries=0)
        (first,) = _run_in_threads([_chat(alice, "slow", "shared-id", SLOW_WORDS)])
        with pytest.raises(openai.ConflictError):
            _chat(alice, "echo", "shared-id")()
        _chat(bob, "echo", "shared-id")()  # submitted while alice's runs
        first.join(timeout=30)
    assert plugin.started == ["shared-id", "shared-id"]


def test_disconnect_while_streaming_stops_generation() -> None:
    plugin = _plugin()
    with make_server(plugin) as base:
        body = {
            "model": "slow",
            "stream": True,
            "messages": [{"role": "user", "content": SLOW_WORDS * 5}],
        }
        with httpx.stream(
            "POST", f"{base}/v1/chat/completions", json=body, headers={"x-request-id": "gone"}
        ) as r:
            for line in r.iter_lines():
                if '"content":"w"' in line:
                    break
        deadline = time.monotonic() + 5
        while "gone" not in plugin.cancelled and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "gone" in plugin.cancelled
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        assert _chat(client, "echo", "after")().choices[0].message.content == "x"


def test_disconnect_while_queued_drops_the_request() -> None:
    plugin = _plugin()
    with make_server(plugin) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        blocker = _run_in_threads([_chat(client, "slow", "blocker", SLOW_WORDS)])
        impatient = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0, timeout=0.2)
        with pytest.raises(openai.APITimeoutError):
            _chat(impatient, "echo", "impatient")()
        blocker[0].join(timeout=30)
        assert _chat(client, "echo", "next")().choices[0].message.content == "x"
    assert "impatient" not in plugin.started
    assert plugin.started[-1] == "next"


def test_disconnect_while_running_non_streamed_stops_generation() -> None:
    plugin = _plugin()
    with make_server(plugin) as base:
        impatient = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0, timeout=0.3)
        with pytest.raises(openai.APITimeoutError):
            _chat(impatient, "slow", "running", SLOW_WORDS * 5)()
        deadline = time.monotonic() + 5
        while "running" not in plugin.cancelled and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "running" in plugin.cancelled


def test_queue_full_is_429_with_retry_after() -> None:
    plugin = _plugin()
    with make_server(plugin, Config(scheduler=SchedulerConfig(max_queue=1))) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        threads = _run_in_threads(
            [_chat(client, "slow", "running", SLOW_WORDS), _chat(client, "echo", "waiting")]
        )
        response = httpx.post(
            f"{base}/v1/chat/completions",
            json={"model": "echo", "messages": [{"role": "user", "content": "x"}]},
        )
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "queue_full"
        assert int(response.headers["retry-after"]) >= 1
        for thread in threads:
            thread.join(timeout=30)
    assert plugin.started == ["running", "waiting"]


def test_queue_wait_limit_is_503() -> None:
    plugin = _plugin()
    with make_server(plugin, Config(scheduler=SchedulerConfig(queue_timeout_s=0.2))) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        threads = _run_in_threads([_chat(client, "slow", "running", SLOW_WORDS)])
        with pytest.raises(openai.InternalServerError) as info:
            _chat(client, "echo", "late")()
        assert info.value.status_code == 503
        assert info.value.body["code"] == "queue_timeout"  # type: ignore[index]
        threads[0].join(timeout=30)


def test_failed_load_is_503_and_other_models_work() -> None:
    plugin = _plugin()
    with make_server(plugin) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.InternalServerError) as info:
            _chat(client, "broken", "b")()
        assert info.value.status_code == 503
        assert info.value.body["code"] == "model_unavailable"  # type: ignore[index]
        # the load's reason is the pack's, about files: shown, so the operator can fix it
        assert "weights are corrupt" in info.value.body["message"]  # type: ignore[index]
        assert _chat(client, "echo", "ok")().choices[0].message.content == "x"


def test_disconnect_while_queued_for_a_stream_drops_the_request() -> None:
    plugin = _plugin()
    with make_server(plugin) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        blocker = _run_in_threads([_chat(client, "slow", "blocker", SLOW_WORDS)])
        body = {"model": "echo", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{base}/v1/chat/completions",
                json=body,
                headers={"x-request-id": "gone"},
                timeout=0.2,
            )
        blocker[0].join(timeout=30)
        assert _chat(client, "echo", "next")().choices[0].message.content == "x"
    assert "gone" not in plugin.started


def test_the_end_of_an_answer_comes_after_its_model_is_released(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client that hears the end and at once deletes, reloads or lists the model must find it
    free: the release is slowed down here, and the answer waits for it."""
    release = MemoryManager.release

    def slow_release(self: MemoryManager, loaded: Any) -> None:
        time.sleep(0.3)
        release(self, loaded)

    monkeypatch.setattr(MemoryManager, "release", slow_release)
    with make_server(_plugin()) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        _chat(client, "echo", "plain")()
        assert [m["in_use"] for m in httpx.get(f"{base}/v1/ps").json()["data"]] == [0]
        for _ in client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "x y"}], stream=True
        ):
            pass
        assert [m["in_use"] for m in httpx.get(f"{base}/v1/ps").json()["data"]] == [0]
        assert httpx.get(f"{base}/v1/queue").json()["data"] == []
