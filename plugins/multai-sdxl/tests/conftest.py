from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported anywhere

from collections.abc import Iterator

import pytest
from openai import OpenAI
from sdxl_testing import Server, TinyModels, lcm_model, run_server, sdxl_model


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    import torch

    torch.set_num_threads(1)
    from diffusers.utils import logging as diffusers_logging
    from tiny_pipelines import build_tiny_lcm, build_tiny_sdxl
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    root = tmp_path_factory.mktemp("models")
    return TinyModels(
        sdxl=build_tiny_sdxl(root / "tiny-sdxl"), lcm=build_tiny_lcm(root / "tiny-lcm")
    )


@pytest.fixture(scope="session")
def server(tiny_models: TinyModels, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for most tests: tiny SDXL and tiny LCM, no API key, small upload limits."""
    folder = tmp_path_factory.mktemp("server")
    with run_server(
        folder,
        [sdxl_model(tiny_models), lcm_model(tiny_models)],
        {"max_image_bytes": 200_000, "max_image_pixels": 1_000_000},
    ) as running:
        # the first request loads torch and the model; later tests then time only their work
        running.client().images.generate(model="tiny-sdxl", prompt="warm up")
        yield running


@pytest.fixture
def client(server: Server) -> OpenAI:
    return server.client()
