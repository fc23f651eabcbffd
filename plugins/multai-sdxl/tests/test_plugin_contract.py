"""The plugin as the core sees it: an entry point, one backend, options checked at load, a
refusal for a payload it does not serve, and no heavy import at import time."""

from __future__ import annotations

import subprocess
import sys
import threading
from importlib.metadata import entry_points
from typing import Any, cast

import pytest
from multai_sdxl.options import SdxlOptions, configured_size, parse_options
from multai_sdxl.plugin import multai_infer

from multai_core.engine.packs import Packs
from multai_core.plugin_api import InvalidRequest, ServiceUnavailable, Task
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


def test_a_payload_it_does_not_serve_is_refused() -> None:
    class SomeOtherTask:
        pass

    task = Task(id="t", kind="image", model="tiny", payload=SomeOtherTask())
    with pytest.raises(InvalidRequest, match="SomeOtherTask"):
        multai_infer(cast(Any, None), task, threading.Event())


def test_default_size_is_checked_with_the_options() -> None:
    assert configured_size(parse_options({"default_size": "768 x 512"}).default_size) == (768, 512)
    assert configured_size(parse_options({"default_size": "auto"}).default_size) is None
    for bad in ("big", "0x512"):
        with pytest.raises(ServiceUnavailable, match="default_size"):
            parse_options({"default_size": bad})
