"""The Bark folder's safetensors files, and their tensors read from the headers (no weight is
read)."""

from __future__ import annotations

import json
from pathlib import Path

from multai_core.plugin_api import ServiceUnavailable
from multai_core.plugin_api.safetensors import TensorInfo, read_files, weight_bytes

INDEX_FILE = "model.safetensors.index.json"

__all__ = ["TensorInfo", "read_tensors", "weight_bytes", "weight_files"]


def weight_files(root: Path) -> list[Path]:
    """The folder's safetensors files (all shards of an index). Pickled weights
    (pytorch_model.bin) are refused: unpickling a model file can run code."""
    index = root / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ServiceUnavailable(f"Cannot read {INDEX_FILE}: {exc}") from exc
        files = [root / name for name in sorted(set(weight_map.values()))]
    else:
        files = sorted(root.glob("*.safetensors"))
    if not files:
        pickled = (
            " (it has pickled weights, which MultAI will not load)"
            if any(root.glob("*.bin"))
            else ""
        )
        raise ServiceUnavailable(
            f"No safetensors weights in the Bark folder{pickled}. Use a folder with "
            "model.safetensors, or convert it once with transformers: "
            "BarkModel.from_pretrained(folder).save_pretrained(new_folder)."
        )
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise ServiceUnavailable(f"Missing safetensors shards: {', '.join(missing)}")
    return files


def read_tensors(root: Path) -> list[TensorInfo]:
    try:
        return read_files(weight_files(root))
    except ValueError as exc:
        raise ServiceUnavailable(str(exc)) from exc
