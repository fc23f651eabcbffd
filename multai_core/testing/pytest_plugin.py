"""pytest plugin, opt-in (``-p multai_core.testing.pytest_plugin``, which MultAI's own suites set
in their addopts): the socket guard for the whole session. A test run that tried to reach the
network fails, naming where. ``MULTAI_SOCKET_GUARD=off`` turns it off for one run.

It also gives the session a data directory of its own (XDG_DATA_HOME, inherited by the servers
it starts): a test that uses the default config must neither read the developer's pulled models
and batches nor leave its own behind for the next run."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from multai_core.testing import socket_guard


def pytest_configure(config: pytest.Config) -> None:
    data_home = tempfile.mkdtemp(prefix="multai-test-data-")
    os.environ["XDG_DATA_HOME"] = data_home
    config.stash[_DATA_HOME] = data_home
    if os.environ.get("MULTAI_SOCKET_GUARD") == "off":
        return
    handle, path = tempfile.mkstemp(prefix="multai-socket-guard-", suffix=".log")
    os.close(handle)
    os.environ[socket_guard.LOG_ENV] = path
    site = str(socket_guard.SITE_DIR)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (site, os.environ.get("PYTHONPATH", "")) if p
    )
    socket_guard.install()
    config.stash[_LOG] = path


_LOG = pytest.StashKey[str]()
_DATA_HOME = pytest.StashKey[str]()


def pytest_unconfigure(config: pytest.Config) -> None:
    data_home = config.stash.get(_DATA_HOME, None)
    if data_home is not None:
        shutil.rmtree(data_home, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.stash.get(_LOG, None)
    if path is None:
        return
    found = socket_guard.attempts(path)
    os.unlink(path)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if found:
        if reporter is not None:
            reporter.write_line(f"socket guard: {len(found)} outbound attempt(s):", red=True)
            for line in found[:20]:
                reporter.write_line(f"  {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None:
        reporter.write_line("socket guard: 0 outbound connection attempts")
