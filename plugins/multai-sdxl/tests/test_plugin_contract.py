"""The plugin as the core sees it: an entry point, one backend, hooks that ignore what is not
theirs, and no heavy import at import time."""

from __future__ import annotations

import subprocess
import sys
import threading
from importlib.metadata import entry_points

from multai_sdxl import plugin
from multai_sdxl.options import SdxlOptions

from multai_core.plugins import make_plugin_manager
from multai_core.registry import collect_backends
from multai_core.types import DeviceSnapshot, ModelSpec, Placement, Task


def test_entry_point_and_backend() -> None:
    (entry,) = [e for e in entry_points(group="multai") if e.name == "sdxl"]
    assert entry.value == "multai_sdxl.plugin"
    backends = {b.name: b for b in collect_backends(make_plugin_manager())}
    sdxl = backends["sdxl"]
    assert sdxl.tasks == frozenset({"image"})
    assert sdxl.options_type is SdxlOptions
    assert sdxl.default_models == ()  # no SDXL ships on PyPI: models come from the config


def test_hooks_ignore_other_backends() -> None:
    other = ModelSpec(name="x", backend="llamacpp", path="/nowhere")
    assert plugin.multai_estimate_memory(spec=other, devices=DeviceSnapshot()) is None
    assert plugin.multai_load(spec=other, placement=Placement(kind="cpu")) is None
    task = Task(id="t", kind="chat", model="x", payload=None)
    assert plugin.multai_infer(handle=object(), task=task, cancel=threading.Event()) is None
    plugin.multai_unload(handle=object())


def test_importing_the_plugin_imports_no_heavy_library() -> None:
    code = (
        "import sys, multai_core, multai_sdxl.plugin, multai_core.server.app\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
