"""The socket guard that every test session runs under (multai_core.testing.pytest_plugin)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from multai_core.testing import socket_guard


def test_loopback_and_unix_are_local() -> None:
    assert socket_guard._is_local(("127.0.0.1", 80))
    assert socket_guard._is_local(("::1", 80, 0, 0))
    assert socket_guard._is_local(("localhost", 80))
    assert socket_guard._is_local("/run/some.sock")
    assert not socket_guard._is_local(("192.0.2.1", 80))  # TEST-NET-1, documentation only
    assert not socket_guard._is_local(("example.invalid", 80))


def _guarded() -> bool:
    return socket.socket.connect.__module__ == socket_guard.__name__


def test_outbound_attempts_are_refused_and_recorded(tmp_path: object) -> None:
    assert _guarded(), "the pytest plugin did not install the guard"
    log = os.environ[socket_guard.LOG_ENV]
    before = socket_guard.attempts(log)
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("192.0.2.1", 9))  # refused before any packet is sent
    recorded = socket_guard.attempts(log)[len(before) :]
    assert len(recorded) == 1 and "192.0.2.1" in recorded[0]
    # forget it: this attempt was the test's own, made on purpose
    with open(log, "w", encoding="utf-8") as handle:
        handle.write("\n".join(before) + ("\n" if before else ""))


def test_subprocesses_are_guarded_too() -> None:
    code = "import socket; print(socket.socket.connect.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == socket_guard.__name__


def test_the_guard_is_opt_in(tmp_path: Path) -> None:
    """A pack author's own pytest run gets no guard (and no rewritten PYTHONPATH) unless it
    asks with -p, as MultAI's suites do in their addopts."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_env.py").write_text(
        "import os\n\ndef test_env():\n    print('PYTHONPATH=' + os.environ.get('PYTHONPATH', ''))\n",
        encoding="utf-8",
    )

    def run(*extra: str) -> str:
        env = {
            k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MULTAI_SOCKET_GUARD")
        }
        command = [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", *extra]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    plain = run()
    assert "socket guard" not in plain and "PYTHONPATH=\n" in plain
    guarded = run("-p", "multai_core.testing.pytest_plugin")
    assert "socket guard: 0 outbound connection attempts" in guarded
    assert "guard_site" in guarded
