"""Background responses that a killed server left unfinished: a real server process (the echo
plugin, served as `multai serve` serves), kill -9 mid-run, then a new process on the same
data_dir runs them again from their stored input, or ends them failed, saying why."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from openai import OpenAI
from openai.types.responses import Response

from multai_core.testing.server import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parent.parent
SERVE = """
import sys
from multai_core.config import ApiKeyEntry, Config, ServerConfig
from multai_core.plugin_api.types import ModelSpec
from multai_core.plugins import make_plugin_manager
from multai_core.server import runner
from multai_core.server.app import create_app
from tests.echo_plugin import EchoPlugin

data_dir, port, models = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
plugin = EchoPlugin(
    [ModelSpec(name=name, backend="echo", options={"token_delay": 0.1}) for name in models]
)
pm = make_plugin_manager(load_entry_points=False)
pm.register(plugin, name="echo")
keys = [ApiKeyEntry(name="owner", key="sk-owner", models=["slow"])]
config = Config(server=ServerConfig(data_dir=data_dir, api_keys=keys))
runner.build_server(create_app(config, pm), host="127.0.0.1", port=port).run()
"""
WORDS = " ".join(f"w{i}" for i in range(30))  # 3 s at 0.1 s a word


@contextlib.contextmanager
def echo_process(
    data_dir: Path, models: str = "slow"
) -> Iterator[tuple[OpenAI, subprocess.Popen[bytes]]]:
    """A server process; yields a client and the process (the test kills it with SIGKILL)."""
    port = free_port()
    command = [sys.executable, "-c", SERVE, str(data_dir), str(port), models]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, timeout=60, process=process)
        yield OpenAI(base_url=f"{base_url}/v1", api_key="sk-owner", max_retries=0), process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)  # no shutdown: what the store holds is all that is left
    process.wait()


def poll(client: OpenAI, response_id: str, until: set[str], timeout: float = 30) -> Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.responses.retrieve(response_id)
        if found.status in until:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{response_id} is still {found.status} after {timeout} s")


def test_unfinished_background_responses_run_again_after_kill_9(tmp_path: Path) -> None:
    with echo_process(tmp_path) as (client, process):
        running = client.responses.create(model="slow", input=WORDS, background=True)
        waiting = client.responses.create(model="slow", input="second in line", background=True)
        poll(client, running.id, {"in_progress"})
        assert client.responses.retrieve(waiting.id).status == "queued"  # one slot
        items_before = client.responses.input_items.list(running.id).data
        kill_hard(process)
    with echo_process(tmp_path) as (client, _):
        done = poll(client, running.id, {"completed", "failed", "cancelled"})
        assert done.status == "completed" and done.error is None
        assert done.output_text == WORDS  # the whole answer, once
        assert done.usage is not None and done.usage.output_tokens == 30
        after = poll(client, waiting.id, {"completed", "failed", "cancelled"})
        assert after.status == "completed" and after.output_text == "second in line"
        assert client.responses.input_items.list(running.id).data == items_before
    # finished ones are not run a second time by the next start
    with echo_process(tmp_path) as (client, _):
        assert client.responses.retrieve(running.id).output_text == WORDS


def test_a_response_is_run_again_once_then_fails_saying_why(tmp_path: Path) -> None:
    with echo_process(tmp_path) as (client, process):
        made = client.responses.create(model="slow", input=WORDS, background=True)
        poll(client, made.id, {"in_progress"})
        kill_hard(process)
    with echo_process(tmp_path) as (client, process):
        poll(client, made.id, {"in_progress"})  # run again, and killed again
        kill_hard(process)
    with echo_process(tmp_path) as (client, _):
        failed = poll(client, made.id, {"completed", "failed", "cancelled"})
        assert failed.status == "failed" and failed.error is not None
        assert failed.error.code == "server_error"
        assert "server restarted" in failed.error.message


def test_a_response_whose_model_is_gone_fails_saying_why(tmp_path: Path) -> None:
    with echo_process(tmp_path) as (client, process):
        made = client.responses.create(model="slow", input=WORDS, background=True)
        poll(client, made.id, {"in_progress"})
        kill_hard(process)
    with echo_process(tmp_path, models="other") as (client, _):
        failed = poll(client, made.id, {"completed", "failed", "cancelled"})
        assert failed.status == "failed" and failed.error is not None
        assert "server restarted" in failed.error.message
        assert "could not run again" in failed.error.message and "slow" in failed.error.message
