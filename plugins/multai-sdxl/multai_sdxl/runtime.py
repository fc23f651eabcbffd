"""torch and diffusers, imported only when a model loads, always offline and quiet."""

from __future__ import annotations

from typing import Any

from multai_core.plugin_api import offline
from multai_sdxl.options import SdxlOptions


def import_diffusers() -> Any:
    """diffusers, after making sure nothing can reach the network and no progress bar prints."""
    offline.enforce(force=True)
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    return diffusers


def float_bytes_for(options: SdxlOptions, on_gpu: bool) -> int:
    return 4 if dtype_name(options, on_gpu) == "float32" else 2


def dtype_name(options: SdxlOptions, on_gpu: bool) -> str:
    """float16 on a GPU and float32 on the CPU unless configured; float16 never on the CPU
    (many CPU kernels lack it), where bfloat16 is the half-precision choice."""
    if options.dtype == "auto":
        return "float16" if on_gpu else "float32"
    if options.dtype == "float16" and not on_gpu:
        return "float32"
    return options.dtype


def torch_dtype(name: str) -> Any:
    import torch

    return {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[name]
