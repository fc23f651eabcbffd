"""Whether the installed torch can use a GPU, found without importing torch (a memory
estimate must stay cheap): torch/version.py names the CUDA or ROCm version it was built for."""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

_GPU_VERSION = re.compile(r"^(?:cuda|hip)\s*(?::[^=]*)?=\s*['\"]([\d.]+)", re.M)


@functools.cache
def torch_gpu_build() -> bool:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    version_file = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        text = version_file.read_text(encoding="utf-8")
    except OSError:
        return False
    return _GPU_VERSION.search(text) is not None
