"""The model folder's safetensors files and their tensors, read from the headers."""

from __future__ import annotations

from pathlib import Path

from multai_core.plugin_api.safetensors import TensorInfo, read_files


def weight_files(folder: Path) -> list[Path]:
    """The model's .safetensors files (all shards), sorted."""
    return sorted(p for p in folder.glob("*.safetensors") if p.is_file())


def read_folder(folder: Path) -> list[TensorInfo]:
    files = weight_files(folder)
    if not files:
        raise FileNotFoundError("no .safetensors weights in the model folder")
    return read_files(files)
