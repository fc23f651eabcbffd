"""Facts about the installed llama.cpp build and this CPU, found without importing llama_cpp
where possible, and the one load-time knob llama-cpp-python does not expose."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

from multai_llamacpp.options import CPU_REPACK_ENV, LlamaCppOptions

_GPU_LIB_RE = re.compile(r"ggml-(cuda|vulkan|metal|hip|sycl|opencl|musa|cann|kompute)", re.I)
_patch_lock = threading.Lock()


@functools.cache
def gpu_offload_available() -> bool:
    """True when the installed llama-cpp-python carries a GPU backend library. Looks at the
    package's files instead of importing it (estimates must stay cheap)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return False
    root = Path(next(iter(spec.submodule_search_locations)))
    for folder in (root / "lib", root):
        if folder.is_dir() and any(_GPU_LIB_RE.search(p.name) for p in folder.iterdir()):
            return True
    return False


@functools.cache
def cpu_has_amx() -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return re.search(r"^flags\s*:.*\bamx_tile\b", text, re.M) is not None


def resolve_cpu_repack(options: LlamaCppOptions) -> bool:
    """Whether llama.cpp may repack CPU weights into its extra buffer types (AMX and others).

    On AMX CPUs inside our VMs the AMX path dies with a general protection fault at the first
    decode (the process is killed, not an exception), so the default there is off."""
    if options.cpu_repack is not None:
        return options.cpu_repack
    env = os.environ.get(CPU_REPACK_ENV, "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    return not cpu_has_amx()


@contextlib.contextmanager
def model_params_override(*, use_extra_bufts: bool, n_seq_max: int = 1) -> Iterator[None]:
    """llama_cpp.Llama() builds its model and context parameters from llama.cpp's defaults and
    offers no argument for ``use_extra_bufts`` (model) or ``n_seq_max`` (context: one KV stream
    per parallel slot); wrap both default functions for the duration of one load. The lock
    keeps two loads in this process from seeing each other's override."""
    import llama_cpp.llama_cpp as lib

    with _patch_lock:
        model_defaults = lib.llama_model_default_params
        context_defaults = lib.llama_context_default_params

        def patched_model() -> lib.llama_model_params:
            params: lib.llama_model_params = model_defaults()
            params.use_extra_bufts = use_extra_bufts
            return params

        def patched_context() -> lib.llama_context_params:
            params: lib.llama_context_params = context_defaults()
            params.n_seq_max = n_seq_max
            params.kv_unified = False  # a stream per slot: attention reads its own cells only
            return params

        lib.llama_model_default_params = patched_model
        lib.llama_context_default_params = patched_context
        try:
            yield
        finally:
            lib.llama_model_default_params = model_defaults
            lib.llama_context_default_params = context_defaults
