"""What must hold before transformers is imported, and facts about the installed torch found
without importing it (estimates must stay cheap)."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from multai_core.plugin_api import offline

_GPU_LIBS = ("libtorch_cuda.so", "libc10_cuda.so", "libtorch_hip.so", "torch_cuda.dll")


def go_offline() -> None:
    """Nothing reaches a hub at run time, whatever the environment said."""
    offline.enforce(force=True)


@functools.cache
def torch_has_gpu_build() -> bool:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return any((lib / name).exists() for name in _GPU_LIBS)
