"""Real servers for tests: uvicorn in a thread (core tests, with in-process test plugins) or
`multai serve` in a subprocess (plugin and end-to-end tests)."""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from multai_core.server import runner

SERVE_ARGS = "MULTAI_TEST_SERVE_ARGS"
"""More `multai serve` arguments for every server ``multai_process`` starts: the ``ray``
session sets ``--ray --replicas 2`` to run the plugins' SDK suites against the Ray ingress."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(
    base_url: str, timeout: float = 60.0, process: subprocess.Popen[Any] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before it was healthy")
        try:
            if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"server at {base_url} not healthy after {timeout} s")


@contextlib.contextmanager
def threaded_server(app: Any) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port in a thread; yields the base URL. A MultAI
    app is served as `multai serve` serves it (runner.build_server: its HTTP protocol, limits
    and shutdown drain); any other app by plain uvicorn."""
    port = free_port()
    server = _server_for(app, port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, timeout=30)
        yield base_url
    finally:
        if isinstance(server, runner.GracefulServer):
            server.begin_shutdown()
        else:
            server.should_exit = True
        thread.join(timeout=60)


def _server_for(app: Any, port: int) -> uvicorn.Server:
    state = getattr(app, "state", None)
    if state is not None and "services" in state:
        return runner.build_server(app, host="127.0.0.1", port=port)
    return uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )


@contextlib.contextmanager
def multai_process(
    *,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    timeout: float = 120.0,
) -> Iterator[str]:
    """`multai serve` in a subprocess on a free port; yields the base URL. stderr (the log) goes
    to ``log_path`` when given, so tests can read what the server logged."""
    port = free_port()
    command = [sys.executable, "-m", "multai_core.cli"]
    if config is not None:
        command += ["--config", str(config)]
    command += ["serve", "--port", str(port), *shlex.split(os.environ.get(SERVE_ARGS, ""))]
    full_env = {**os.environ, **(env or {})}
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(open(log_path, "wb")) if log_path else subprocess.DEVNULL
        process = subprocess.Popen(command, env=full_env, stdout=log, stderr=log)
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base_url, timeout=timeout, process=process)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
