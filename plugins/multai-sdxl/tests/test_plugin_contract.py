"""The plugin as the core sees it: an entry point, one backend, hooks that ignore what is not
theirs, and no heavy import at import time."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

from multai_sdxl.options import SdxlOptions

from multai_core.packs import Packs
from multai_core.plugins import make_plugin_manager


def test_entry_point_and_backend() -> None:
    (entry,) = [e for e in entry_points(group="multai") if e.name == "sdxl"]
    assert entry.value == "multai_sdxl.plugin"
    backends = {b.name: b for b in Packs(make_plugin_manager()).backends}
    sdxl = backends["sdxl"]
    assert sdxl.tasks == frozenset({"image"})
    assert sdxl.options_type is SdxlOptions
    assert sdxl.default_models == ()  # no SDXL ships on PyPI: models come from the config


def test_importing_the_plugin_imports_no_heavy_library() -> None:
    code = (
        "import sys, multai_core, multai_sdxl.plugin, multai_core.server.app\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
