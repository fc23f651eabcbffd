"""Queue view, resident models, metrics, per-key limits and graceful shutdown."""

from __future__ import annotations

import hashlib
import signal
import threading
import time

import httpx
import openai
import pytest
import uvicorn
from openai import OpenAI

from multai_core.config import ApiKeyEntry, Config, ServerConfig
from multai_core.plugin_api.types import ModelSpec
from multai_core.plugins import make_plugin_manager
from multai_core.server.app import create_app
from multai_core.server.runner import GracefulServer
from multai_core.testing.server import free_port, wait_until_healthy
from tests.conftest import CPU_ONLY, make_server
from tests.echo_plugin import EchoPlugin
from tests.test_scheduling import SLOW_WORDS, _chat, _run_in_threads


def _plugin() -> EchoPlugin:
    return EchoPlugin(
        [
            ModelSpec(name="echo", backend="echo"),
            ModelSpec(name="slow", backend="echo", options={"token_delay": 0.05}),
            ModelSpec(name="secret", backend="echo"),
        ]
    )


KEYS = [
    ApiKeyEntry(name="ops", key="sk-admin", admin=True),
    ApiKeyEntry(
        name="batch",
        sha256=hashlib.sha256(b"sk-batch").hexdigest(),
        max_priority=1,
        models=["echo", "slow"],
    ),
    ApiKeyEntry(name="other", key="sk-other", max_priority=0),
]


def test_key_limits_priority_and_models() -> None:
    with make_server(_plugin(), Config(server=ServerConfig(api_keys=list(KEYS)))) as base:
        batch = OpenAI(base_url=f"{base}/v1", api_key="sk-batch", max_retries=0)
        assert (
            _chat(batch, "echo", "ok", extra_body={"priority": 1})().choices[0].message.content
            == "x"
        )
        with pytest.raises(openai.PermissionDeniedError) as info:
            _chat(batch, "echo", "urgent", extra_body={"priority": 0})()
        assert info.value.body["param"] == "priority"  # type: ignore[index]
        with pytest.raises(openai.NotFoundError) as denied:
            _chat(batch, "secret", "forbidden")()
        with pytest.raises(openai.NotFoundError) as absent:
            _chat(batch, "no-such-model", "absent")()
        # a key learns nothing about the models it may not use
        assert denied.value.status_code == absent.value.status_code == 404
        assert denied.value.message == absent.value.message.replace("no-such-model", "secret")
        with pytest.raises(openai.PermissionDeniedError):
            _chat(batch, "echo", "tier", service_tier="priority")()  # maps to priority 0


def test_queue_view_positions_and_privacy() -> None:
    plugin = _plugin()
    with make_server(plugin, Config(server=ServerConfig(api_keys=list(KEYS)))) as base:
        admin = OpenAI(base_url=f"{base}/v1", api_key="sk-admin", max_retries=0)
        other = OpenAI(base_url=f"{base}/v1", api_key="sk-other", max_retries=0)
        threads = _run_in_threads(
            [
                _chat(admin, "slow", "running", SLOW_WORDS * 2),
                _chat(admin, "echo", "admin-waits", extra_body={"priority": 2}),
                _chat(other, "echo", "other-waits", extra_body={"priority": 1}),
            ]
        )
        view = httpx.get(f"{base}/v1/queue", headers={"authorization": "Bearer sk-admin"}).json()
        by_id = {e["id"]: e for e in view["data"]}
        assert by_id["running"]["status"] == "running"
        assert by_id["running"]["position"] is None
        assert by_id["other-waits"]["position"] == 0  # priority 1 goes before priority 2
        assert by_id["admin-waits"]["position"] == 1
        own = httpx.get(f"{base}/v1/queue", headers={"authorization": "Bearer sk-other"}).json()
        assert [e["id"] for e in own["data"]] == ["other-waits"]
        one = httpx.get(
            f"{base}/v1/queue/admin-waits", headers={"authorization": "Bearer sk-other"}
        )
        assert one.status_code == 404
        mine = httpx.get(
            f"{base}/v1/queue/other-waits", headers={"authorization": "Bearer sk-other"}
        )
        assert mine.json()["priority"] == 1
        for thread in threads:
            thread.join(timeout=30)


def test_ps_and_metrics() -> None:
    with make_server(_plugin(), Config(server=ServerConfig(api_keys=["sk-admin"]))) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="sk-admin", max_retries=0)
        _chat(client, "echo", "one", "a b c")()
        client.embeddings.create(model="echo", input="four words of input")
        ps = httpx.get(f"{base}/v1/ps", headers={"authorization": "Bearer sk-admin"}).json()
        (model,) = ps["data"]
        assert (model["id"], model["placement"], model["device"], model["in_use"]) == (
            "echo",
            "cpu",
            "cpu",
            0,
        )
        assert model["ram_bytes"] == 10 * 2**20
        assert httpx.get(f"{base}/metrics").status_code == 401
        text = httpx.get(f"{base}/metrics", headers={"authorization": "Bearer sk-admin"}).text
        assert 'multai_model_loads_total{model="echo"} 1.0' in text
        assert 'multai_tokens_total{model="echo",type="completion"} 3.0' in text
        # the chat's prompt (3 words) and the embedding's input (1 input, as echo counts)
        assert 'multai_tokens_total{model="echo",type="prompt"} 4.0' in text
        assert 'multai_queue_wait_seconds_count{priority="1"} 2.0' in text
        assert 'multai_resident_bytes{device="cpu"} 1.048576e+07' in text
        assert "sk-admin" not in text


def test_metrics_can_be_public() -> None:
    config = Config(server=ServerConfig(api_keys=["k"], metrics_public=True))
    with make_server(_plugin(), config) as base:
        assert httpx.get(f"{base}/metrics").status_code == 200


def test_graceful_shutdown_answers_queued_with_503_and_finishes_running() -> None:
    plugin = _plugin()
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(plugin)
    app = create_app(Config(), pm, probe=lambda: CPU_ONLY)
    port = free_port()
    server = GracefulServer(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, timeout_graceful_shutdown=10
        ),
        app.state.services.scheduler,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(base)
    client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
    results: dict[str, object] = {}

    def call(rid: str, content: str) -> None:
        try:
            results[rid] = _chat(client, "slow", rid, content)().choices[0].message.content
        except openai.APIStatusError as exc:
            results[rid] = exc.status_code

    threads = [
        threading.Thread(target=call, args=("running", SLOW_WORDS)),
        threading.Thread(target=call, args=("queued", "q")),
    ]
    for t in threads:
        t.start()
        time.sleep(0.1)
    server.handle_exit(signal.SIGTERM, None)
    for t in threads:
        t.join(timeout=30)
    thread.join(timeout=30)
    assert results["running"] == SLOW_WORDS  # finished
    assert results["queued"] == 503  # answered at once, not lost


def test_multai_ps_command() -> None:
    import subprocess
    import sys

    with make_server(_plugin(), Config(server=ServerConfig(api_keys=["sk-admin"]))) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="sk-admin", max_retries=0)
        _chat(client, "echo", "one")()
        out = subprocess.run(
            [sys.executable, "-m", "multai_core.cli", "ps", "--url", base],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "MULTAI_API_KEY": "sk-admin", "MULTAI_LOAD_PLUGINS": ""},
            check=True,
        ).stdout
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["MODEL", "PLACEMENT", "DEVICE"]
    assert lines[1].split()[:3] == ["echo", "cpu", "cpu"]
