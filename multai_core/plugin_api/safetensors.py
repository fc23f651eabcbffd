"""Tensor names, dtypes and shapes of .safetensors files, read from their headers with
``safetensors.safe_open``: no weight is read and torch is not imported. A pack that uses this
depends on the ``safetensors`` package (transformers and diffusers already do)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DTYPE_BYTES: dict[str, float] = {
    "F64": 8, "I64": 8, "U64": 8,
    "F32": 4, "I32": 4, "U32": 4,
    "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
    "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1,
    "F4": 0.5, "F6_E2M3": 0.75, "F6_E3M2": 0.75,
}  # fmt: skip
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16"})
"""What ``from_pretrained(dtype=...)`` casts; other tensors keep their own dtype."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def nbytes(self, float_bytes: float | None = None) -> int:
        """Size as stored, or with floating-point tensors cast to ``float_bytes`` a value."""
        if float_bytes is not None and self.dtype in FLOAT_DTYPES:
            return int(self.numel * float_bytes)
        return math.ceil(self.numel * DTYPE_BYTES.get(self.dtype, 8))


def read_header(path: Path) -> list[TensorInfo]:
    """Every tensor of one file; ValueError naming the file if it is not a safetensors file."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as stream:
            return [
                TensorInfo(
                    name=name,
                    dtype=(piece := stream.get_slice(name)).get_dtype(),
                    shape=tuple(piece.get_shape()),
                )
                for name in stream.keys()  # noqa: SIM118 - safe_open is not a mapping
            ]
    except (OSError, SafetensorError) as exc:
        raise ValueError(f"{path.name} is not a readable safetensors file: {exc}") from exc


def read_files(paths: Iterable[Path]) -> list[TensorInfo]:
    return [tensor for path in paths for tensor in read_header(path)]


def weight_bytes(tensors: Iterable[TensorInfo], float_bytes: float | None = None) -> int:
    """Bytes in memory, floating-point tensors cast to ``float_bytes`` a value (None: as
    stored)."""
    return sum(t.nbytes(float_bytes) for t in tensors)
