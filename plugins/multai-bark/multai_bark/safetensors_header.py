"""Tensor names, dtypes and shapes from safetensors headers: the first 8 bytes give the JSON
header's length, the header lists every tensor. No weight is read."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

from multai_core.plugin_api import ServiceUnavailable

MAX_HEADER_BYTES = 100 * 1024 * 1024
INDEX_FILE = "model.safetensors.index.json"
DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
}  # fmt: skip
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16"})


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


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


def read_header(path: Path) -> dict[str, TensorInfo]:
    try:
        with path.open("rb") as stream:
            (length,) = struct.unpack("<Q", stream.read(8))
            if length > MAX_HEADER_BYTES:
                raise ValueError(f"header of {length} bytes")
            raw = json.loads(stream.read(length))
    except (OSError, ValueError, struct.error) as exc:
        raise ServiceUnavailable(f"{path.name} is not a readable safetensors file: {exc}") from exc
    tensors: dict[str, TensorInfo] = {}
    for name, entry in raw.items():
        if name == "__metadata__":
            continue
        tensors[name] = TensorInfo(dtype=str(entry["dtype"]), shape=tuple(entry["shape"]))
    return tensors


def read_tensors(root: Path) -> dict[str, TensorInfo]:
    tensors: dict[str, TensorInfo] = {}
    for path in weight_files(root):
        tensors.update(read_header(path))
    return tensors


def weight_bytes(tensors: dict[str, TensorInfo], float_bytes: int) -> int:
    """Bytes in memory once floating-point tensors are cast to a dtype of ``float_bytes``."""
    total = 0
    for tensor in tensors.values():
        size = float_bytes if tensor.dtype in FLOAT_DTYPES else DTYPE_BYTES.get(tensor.dtype, 8)
        total += tensor.numel * size
    return total
