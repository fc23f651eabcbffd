from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import multai_llamacpp.default_model as default_model
from multai_llamacpp.options import LlamaCppOptions

from multai_core.plugin_api import DeviceSnapshot


def test_backend_registration(backend):
    assert backend.name == "llamacpp"
    assert backend.tasks == frozenset({"chat", "completion", "embedding"})
    assert backend.options_type is LlamaCppOptions
    [model] = backend.default_models
    assert model.name == "smollm2-135m-instruct"
    assert model.backend == "llamacpp"
    assert Path(model.path).suffix == ".gguf"
    assert Path(model.path).is_file()


def test_no_default_model_without_the_package(monkeypatch):
    monkeypatch.setattr(default_model.importlib.util, "find_spec", lambda name: None)
    assert default_model.default_models() == []


def test_importing_the_plugin_does_not_import_llama_cpp():
    code = (
        "import sys, multai_llamacpp.plugin, multai_llamacpp.estimate;"
        "assert 'llama_cpp' not in sys.modules, 'llama_cpp imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_options_are_rejected(pm, spec):
    import msgspec
    import pytest

    bad = msgspec.structs.replace(spec, options={"n_ctxx": 5})
    with pytest.raises(ValueError, match="n_ctxx"):
        pm.hook.multai_estimate_memory(spec=bad, devices=DeviceSnapshot())


def test_threads_come_from_options_then_env_then_placement(monkeypatch):
    from multai_llamacpp.options import N_THREADS_ENV, physical_cores, resolve_threads

    monkeypatch.delenv(N_THREADS_ENV, raising=False)
    assert resolve_threads(LlamaCppOptions()) == (physical_cores(), physical_cores())
    assert resolve_threads(LlamaCppOptions(), 3) == (3, 3)  # a Ray replica's three CPUs
    assert resolve_threads(LlamaCppOptions(n_threads=2, n_threads_batch=5), 3) == (2, 5)
    monkeypatch.setenv(N_THREADS_ENV, "1")
    assert resolve_threads(LlamaCppOptions(), 3) == (1, 1)
