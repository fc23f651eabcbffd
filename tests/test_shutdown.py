"""SIGTERM: running requests may finish for [server].shutdown_drain_s; a stream still running
when the drain ends gets the last error event and the connection closes; the process logs no
traceback and exits 0. The server runs as users run it: runner.run in its own process."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from multai_core.testing.server import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]
DRAIN_S = 2.0
SERVE = f"""
import sys
from multai_core.config import Config, ServerConfig
from multai_core.plugin_api.types import DeviceSnapshot, ModelSpec
from multai_core.plugins import make_plugin_manager
from multai_core.server import runner
from multai_core.server.app import create_app
from multai_core.server.logging import configure_logging
from tests.echo_plugin import EchoPlugin

configure_logging("info", "json")
pm = make_plugin_manager(load_entry_points=False)
slow = ModelSpec(name="slow", backend="echo", options={{"token_delay": 0.1, "slots": 2}})
pm.register(EchoPlugin([slow]), name="echo")
probe = lambda: DeviceSnapshot(ram_total_bytes=2**34, ram_free_bytes=2**33)
app = create_app(Config(server=ServerConfig(shutdown_drain_s={DRAIN_S})), pm, probe=probe)
runner.run(app, host="127.0.0.1", port=int(sys.argv[1]))
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port)], cwd=ROOT, stdout=log, stderr=log
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, timeout=60, process=process)
        yield process, base_url, log_path
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _stream(client: OpenAI, words: int, started: threading.Event) -> tuple[list[str], str]:
    """The text a stream delivered and how it ended: "done" or the error event's message."""
    text = []
    stream = client.chat.completions.create(
        model="slow",
        messages=[{"role": "user", "content": " ".join(["w"] * words)}],
        stream=True,
    )
    try:
        for chunk in stream:
            started.set()
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
    except openai.APIError as exc:
        return text, exc.message
    return text, "done"


def test_sigterm_ends_a_stream_past_the_drain_with_the_error_event(
    served: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, base_url, log_path = served
    client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=60)
    results: dict[str, tuple[list[str], str]] = {}
    started = {"short": threading.Event(), "long": threading.Event()}
    # 0.1 s a word: the short one ends within the drain, the long one (60 s) cannot
    threads = [
        threading.Thread(
            target=lambda name=name, words=words: results.__setitem__(
                name, _stream(client, words, started[name])
            )
        )
        for name, words in (("short", 10), ("long", 600))
    ]
    for thread in threads:
        thread.start()
    for event in started.values():
        assert event.wait(30), "a stream never started"

    process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(60)
    assert process.wait(timeout=60) == 0

    short_text, short_end = results["short"]
    assert short_end == "done"  # finished within the drain, [DONE] and all
    assert len(short_text) == 10
    long_text, long_end = results["long"]
    assert 0 < len(long_text) < 600
    assert "[server].shutdown_drain_s" in long_end
    log = log_path.read_text()
    assert "Traceback" not in log, log


def test_a_request_open_past_the_drain_is_closed_without_a_traceback(
    served: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    """An upload that trickles on (each byte restarts the body timeout) is not the scheduler's
    to end: the HTTP server cuts it after the drain and its margin, quietly."""
    process, base_url, log_path = served
    port = int(base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")  # the connection is served
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: test\r\n"
            b"content-type: application/json\r\ncontent-length: 100000\r\n\r\n{"
        )
        with contextlib.suppress(OSError):  # until the server closes it
            for sent in range(120):
                if sent == 2:
                    process.send_signal(signal.SIGTERM)
                sock.sendall(b" ")
                time.sleep(0.5)
                if process.poll() is not None:
                    break
    assert process.wait(timeout=60) == 0
    log = log_path.read_text()
    assert "Traceback" not in log, log
    assert "request_cut_at_shutdown" in log
