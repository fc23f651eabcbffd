from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from multai_core.config import Config
from multai_core.plugin_api.types import DeviceSnapshot, ModelSpec
from multai_core.plugins import make_plugin_manager
from multai_core.server.app import create_app
from multai_core.testing.fake_hub import FakeHub
from multai_core.testing.server import threaded_server
from tests.echo_plugin import EchoPlugin

GiB = 2**30
CPU_ONLY = DeviceSnapshot(ram_total_bytes=16 * GiB, ram_free_bytes=8 * GiB)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    """A Hugging Face hub on loopback that this process (and the pulls it starts) uses."""
    with FakeHub() as fake:
        fake.aim_this_process(monkeypatch, tmp_path / "hf-home")
        yield fake


def make_server(plugin: EchoPlugin, config: Config | None = None):  # type: ignore[no-untyped-def]
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(plugin, name="echo")
    app = create_app(config or Config(), pm, probe=lambda: CPU_ONLY)
    return threaded_server(app)


@pytest.fixture
def echo_plugin() -> EchoPlugin:
    return EchoPlugin(
        [
            ModelSpec(name="echo", backend="echo", aliases=("echo-alias",)),
            ModelSpec(name="slow", backend="echo", options={"token_delay": 0.05}),
        ]
    )


@pytest.fixture
def server(echo_plugin: EchoPlugin) -> Iterator[str]:
    with make_server(echo_plugin) as base_url:
        yield base_url


@pytest.fixture
def client(server: str) -> OpenAI:
    return OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)
