"""Tensor sizes of a safetensors file, from its header (no weights read, no torch import)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from multai_core.plugin_api.safetensors import FLOAT_DTYPES, read_header


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
    tensors = read_header(path)
    return TensorTotals(
        float_elements=sum(t.numel for t in tensors if t.dtype in FLOAT_DTYPES),
        other_bytes=sum(t.nbytes() for t in tensors if t.dtype not in FLOAT_DTYPES),
    )
