"""Facts about the installed torch found without importing it, and the offline settings that
must be in place before transformers is imported."""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

from multai_core.plugin_api import offline

_CUDA_VERSION = re.compile(r"^cuda\s*(?::[^=]*)?=\s*['\"]([\d.]+)['\"]", re.M)


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
    """Nothing reaches a hub at run time, whatever the environment said."""
    offline.enforce(force=True)
