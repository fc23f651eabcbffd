"""One log: every line of `multai serve` (uvicorn's, libraries' and MultAI's own) in one format,
JSON when stderr is not a terminal, with a startup line naming the models and the URL."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from multai_core.testing.server import multai_process


def _lines(log: Path) -> list[dict[str, object]]:
    text = log.read_text(encoding="utf-8")
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    return events


def test_serve_logs_json_lines_and_says_where_it_serves(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with multai_process(env={"MULTAI_LOAD_PLUGINS": ""}, log_path=log) as base_url:
        assert httpx.get(f"{base_url}/v1/models", timeout=10).status_code == 200
    events = _lines(log)
    assert all({"event", "level", "timestamp"} <= set(e) for e in events), events
    serving = [e for e in events if e["event"] == "serving"]
    assert serving == [{**serving[0], "url": base_url, "models": []}], (
        "one startup line with the URL and the (here: no) models"
    )
    assert any(e.get("logger") == "uvicorn.error" for e in events)  # the HTTP server's own
    assert any(e["event"] == "request" and e.get("path") == "/v1/models" for e in events)


SCRIPT = """
import os, sys, warnings
from multai_core.server.logging import configure_logging
import structlog

configure_logging("info", sys.argv[1])
log = structlog.get_logger("probe")
saved = os.dup(2)
devnull = os.open(os.devnull, os.O_WRONLY)
os.dup2(devnull, 2)  # what llama-cpp-python does to stderr while it loads a model
log.info("while_stderr_is_devnull")
os.dup2(saved, 2)
warnings.warn("a library's warning", UserWarning, stacklevel=1)
import logging
logging.getLogger("httpx").info("HTTP Request: GET https://example.invalid/secret.png")
logging.getLogger("some.library").info("a library line")
"""


def _run(fmt: str, stderr: int) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), fmt],
        stdout=subprocess.PIPE,
        stderr=stderr,
        timeout=60,
        check=True,
    )


def test_lines_survive_a_redirected_stderr_and_libraries_join_the_format(
    tmp_path: Path,
) -> None:
    log = tmp_path / "log"
    with log.open("wb") as stderr:
        _run("auto", stderr.fileno())
    events = _lines(log)
    names = [e["event"] for e in events]
    assert "while_stderr_is_devnull" in names
    assert "a library line" in names
    assert any(e.get("logger") == "py.warnings" for e in events)
    assert not any(e.get("logger") == "httpx" for e in events)  # URLs are request content


def test_a_terminal_gets_readable_lines() -> None:
    controller, terminal = pty.openpty()
    try:
        _run("auto", terminal)
        os.close(terminal)
        terminal = -1
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)
    text = b"".join(chunks).decode("utf-8", errors="replace")
    assert "while_stderr_is_devnull" in text and "a library line" in text
    assert not any(line.lstrip().startswith("{") for line in text.splitlines())
