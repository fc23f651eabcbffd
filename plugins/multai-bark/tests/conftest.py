"""One tiny random Bark per test session, and one real `multai serve` (in a subprocess, with
only this plugin loaded) that serves it under two configurations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bark_tiny import build_mute_bark, build_tiny_bark
from openai import OpenAI

from multai_core.testing.server import multai_process

os.environ.setdefault("OMP_NUM_THREADS", "1")
SEGMENT_CHARS = 60
MUTE_OPTIONS = "torch_threads = 1, min_eos_p = 0.001, max_segment_chars = 20"


@dataclass(frozen=True)
class Server:
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def tiny_bark(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.set_num_threads(1)
    return build_tiny_bark(tmp_path_factory.mktemp("models") / "tiny-bark")


@pytest.fixture(scope="session")
def mute_bark(tiny_bark: Path) -> Path:
    return build_mute_bark(tiny_bark, tiny_bark.parent / "mute-bark")


def write_config(folder: Path, model_path: Path, mute_path: Path) -> Path:
    config = folder / "multai.toml"
    config.write_text(
        f"""
default_models = false  # these models only: no other installed plugin's defaults
[server]
log_level = "debug"

[[models]]
name = "tiny-bark"
backend = "bark"
path = "{model_path}"
options = {{ do_sample = false, torch_threads = 1, max_segment_chars = {SEGMENT_CHARS} }}

[[models]]
name = "tiny-bark-custom"
backend = "bark"
path = "{model_path}"
options = {{ do_sample = false, torch_threads = 1, default_voice = "narrator", voices = {{ narrator = "v2/en_speaker_9", alloy = "announcer" }} }}

[[models]]
name = "tiny-bark-mute"
backend = "bark"
path = "{mute_path}"
options = {{ do_sample = false, {MUTE_OPTIONS} }}

[[models]]
name = "tiny-bark-mute-sampling"
backend = "bark"
path = "{mute_path}"
options = {{ do_sample = true, {MUTE_OPTIONS} }}
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture(scope="session")
def server(
    tiny_bark: Path, mute_bark: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("server")
    log_path = folder / "server.log"
    env = {"OMP_NUM_THREADS": "1", "MULTAI_LOAD_PLUGINS": "bark"}
    with multai_process(
        config=write_config(folder, tiny_bark, mute_bark), env=env, log_path=log_path
    ) as base_url:
        yield Server(base_url=base_url, log_path=log_path)


@pytest.fixture(scope="session")
def client(server: Server) -> OpenAI:
    return OpenAI(base_url=f"{server.base_url}/v1", api_key="unused", max_retries=0, timeout=120)
