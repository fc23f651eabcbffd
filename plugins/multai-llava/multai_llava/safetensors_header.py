"""Tensor names, dtypes and shapes from safetensors headers: no weights read, no torch.

A .safetensors file starts with an 8-byte little-endian header length, then a JSON header
``{name: {"dtype": "F16", "shape": [..], "data_offsets": [..]}, "__metadata__": {...}}``.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

MAX_HEADER_BYTES = 100 * 1024 * 1024
DTYPE_BYTES: dict[str, float] = {
    "F64": 8, "I64": 8, "U64": 8,
    "F32": 4, "I32": 4, "U32": 4,
    "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
    "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1,
    "F4": 0.5, "F6_E2M3": 0.75, "F6_E3M2": 0.75,
}  # fmt: skip
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16"})


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def nbytes(self, float_bytes: float | None = None) -> int:
        """Size as stored, or with floating-point tensors cast to ``float_bytes`` per value
        (what ``from_pretrained(dtype=...)`` does to them)."""
        if float_bytes is not None and self.dtype in FLOAT_DTYPES:
            return int(self.numel * float_bytes)
        return math.ceil(self.numel * DTYPE_BYTES.get(self.dtype, 4))


def read_header(path: Path) -> list[TensorInfo]:
    with path.open("rb") as stream:
        raw_len = stream.read(8)
        if len(raw_len) != 8:
            raise ValueError(f"{path.name}: too short for a safetensors file")
        (length,) = struct.unpack("<Q", raw_len)
        if length <= 0 or length > MAX_HEADER_BYTES:
            raise ValueError(f"{path.name}: implausible safetensors header length {length}")
        header = json.loads(stream.read(length))
    if not isinstance(header, dict):
        raise ValueError(f"{path.name}: safetensors header is not a JSON object")
    tensors: list[TensorInfo] = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        tensors.append(
            TensorInfo(name=name, dtype=str(entry["dtype"]), shape=tuple(entry["shape"]))
        )
    return tensors


def weight_files(folder: Path) -> list[Path]:
    """The model's .safetensors files (all shards), sorted."""
    return sorted(p for p in folder.glob("*.safetensors") if p.is_file())


def read_folder(folder: Path) -> list[TensorInfo]:
    files = weight_files(folder)
    if not files:
        raise FileNotFoundError("no .safetensors weights in the model folder")
    return [t for f in files for t in read_header(f)]
