"""Helpers for the sdxl plugin's tests: tiny models, config files, a server handle."""

from __future__ import annotations

import base64
import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from openai import OpenAI
from PIL import Image

from multai_core.testing.server import multai_process

SERVER_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


@dataclass(frozen=True)
class TinyModels:
    sdxl: Path
    lcm: Path


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)  # strings, numbers, booleans and lists read the same in TOML


def write_config(path: Path, models: list[dict[str, Any]], server: dict[str, Any]) -> Path:
    lines = ["default_models = false", "[server]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in server.items()]
    for model in models:
        lines += ["", "[[models]]", *(f"{k} = {_toml_value(v)}" for k, v in model.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Server:
    base_url: str
    log_path: Path
    api_key: str

    def client(self, api_key: str | None = None) -> OpenAI:
        return OpenAI(
            base_url=f"{self.base_url}/v1", api_key=api_key or self.api_key, max_retries=0
        )

    def log_lines(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    found.append(entry)
        return found


@contextlib.contextmanager
def run_server(
    folder: Path, models: list[dict[str, Any]], server: dict[str, Any] | None = None
) -> Iterator[Server]:
    config = write_config(folder / "multai.toml", models, server or {})
    log_path = folder / "server.log"
    with multai_process(config=config, env=SERVER_ENV, log_path=log_path) as base_url:
        keys = (server or {}).get("api_keys") or ["unused"]
        yield Server(base_url=base_url, log_path=log_path, api_key=keys[0])


def sdxl_model(models: TinyModels, **options: Any) -> dict[str, Any]:
    return {
        "name": "tiny-sdxl",
        "backend": "sdxl",
        "path": str(models.sdxl),
        "options": {"max_steps": 1000, "default_steps": 2, **options},
    }


def lcm_model(models: TinyModels) -> dict[str, Any]:
    return {
        "name": "tiny-lcm",
        "backend": "sdxl",
        "path": str(models.lcm),
        "options": {"default_steps": 2, "default_guidance_scale": 1.0},
    }


def decode_b64(data: str | None) -> Image.Image:
    assert data, "no b64_json in the response"
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    image.load()
    return image


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(pixels(a) - pixels(b)).mean())


def image_file(size: tuple[int, int], fmt: str = "PNG", mode: str = "RGB") -> bytes:
    """A real image with structure (a gradient and a square), encoded as ``fmt``."""
    width, height = size
    ramp = np.linspace(0, 255, width, dtype=np.uint8)
    array = np.stack([np.tile(ramp, (height, 1))] * 3, axis=-1)
    array[height // 4 : height // 2, width // 4 : width // 2] = (200, 30, 30)
    image = Image.fromarray(array, "RGB").convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def raw_post(server: Server, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{server.base_url}{path}", timeout=60, **kwargs)
