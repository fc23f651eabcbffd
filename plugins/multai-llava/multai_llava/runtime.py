"""Facts about the installed torch found without importing it, and the offline settings that
must be in place before transformers is imported."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from pathlib import Path

_CUDA_VERSION = re.compile(r"^cuda\s*(?::[^=]*)?=\s*['\"]([\d.]+)['\"]", re.M)
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


@functools.cache
def cuda_build_available() -> bool:
    """True when the installed torch is a CUDA build (torch/version.py names a CUDA version).
    Reads the file instead of importing torch: estimates must stay cheap."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    version_file = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        text = version_file.read_text(encoding="utf-8")
    except OSError:
        return False
    return _CUDA_VERSION.search(text) is not None


def go_offline() -> None:
    """Nothing may reach the network at run time: no hub downloads, no telemetry."""
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value
