"""One real server per test session (`multai serve` in a subprocess, no config: the packaged
Whisper base model is the default, assembled into a temporary cache folder), driven through the
official SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI
from whisper_server import Server, server_env

from multai_core.testing.server import multai_process


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("multai-cache")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("server")
    tmp = folder / "tmp"
    tmp.mkdir()
    log = folder / "server.log"
    with multai_process(env=server_env(cache_dir, tmp), log_path=log) as base_url:
        yield Server(base_url, log, tmp)


@pytest.fixture(scope="session")
def client(server: Server) -> OpenAI:
    return server.client()
