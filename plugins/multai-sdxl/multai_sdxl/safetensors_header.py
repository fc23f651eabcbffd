"""Tensor sizes from a safetensors file's JSON header: no weights read, no torch import."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

MAX_HEADER_BYTES = 100 * 1024 * 1024
DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
}  # fmt: skip
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"})


@dataclass(frozen=True)
class TensorTotals:
    """Floating-point elements (their size depends on the dtype they are loaded in) and the
    bytes of every other tensor (integer buffers keep their own dtype)."""

    float_elements: int = 0
    other_bytes: int = 0

    def __add__(self, other: TensorTotals) -> TensorTotals:
        return TensorTotals(
            self.float_elements + other.float_elements, self.other_bytes + other.other_bytes
        )

    def bytes_as(self, float_bytes: int) -> int:
        return self.float_elements * float_bytes + self.other_bytes


def read_totals(path: Path) -> TensorTotals:
    with path.open("rb") as stream:
        prefix = stream.read(8)
        if len(prefix) != 8:
            raise ValueError(f"{path.name}: not a safetensors file (too short)")
        (size,) = struct.unpack("<Q", prefix)
        if size > MAX_HEADER_BYTES:
            raise ValueError(f"{path.name}: safetensors header of {size} bytes is implausible")
        header = json.loads(stream.read(size))
    floats = others = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info["dtype"]
        elements = 1
        for dim in info["shape"]:
            elements *= int(dim)
        if dtype in FLOAT_DTYPES:
            floats += elements
        else:
            others += elements * DTYPE_BYTES.get(dtype, 8)
    return TensorTotals(floats, others)
