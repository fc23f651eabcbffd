"""Shared fixtures: the tiny LLaVA (built once per session), a real `multai serve` with it,
the official SDK client, and images made in memory."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from multai_core.testing.image_host import image_bytes
from multai_core.testing.server import multai_process

os.environ.setdefault("OMP_NUM_THREADS", "1")
SERVER_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MULTAI_LOAD_PLUGINS": "llava",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}
MODEL = "tiny-llava"
MAX_IMAGES = 3
NO_EOS = {"2": -100}  # logit_bias that keeps the random model from ending early


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_llava import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("models") / "tiny-llava")


def write_config(path: Path, model_dir: Path, server: dict[str, object] | None = None) -> Path:
    lines = ["default_models = false", "[server]", f"max_images_per_request = {MAX_IMAGES}"]
    for key, value in (server or {}).items():
        rendered = str(value).lower() if isinstance(value, bool) else repr(value)
        lines.append(f"{key} = {rendered}")
    lines += [
        "",
        "[[models]]",
        f'name = "{MODEL}"',
        'backend = "llava"',
        f'path = "{model_dir}"',
        'aliases = ["gpt-4o-mini-tiny"]',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs") / "server.log"


@pytest.fixture(scope="session")
def server(
    tiny_llava: Path, tmp_path_factory: pytest.TempPathFactory, server_log: Path
) -> Iterator[str]:
    config = write_config(tmp_path_factory.mktemp("config") / "multai.toml", tiny_llava)
    with multai_process(config=config, env=SERVER_ENV, log_path=server_log) as base_url:
        yield base_url


@pytest.fixture
def client(server: str) -> OpenAI:
    return OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0, timeout=120)


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


RED = data_url(image_bytes((220, 20, 20)))
BLUE = data_url(image_bytes((20, 20, 220)))
