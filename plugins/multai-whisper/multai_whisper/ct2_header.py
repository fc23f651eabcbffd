"""The variable table of a CTranslate2 ``model.bin``: name, shape and dtype of every tensor,
read by seeking past the weights (never loading them), from one file or from the pieces of a
file split in order (the packaged default model ships its model.bin in two parts).

Layout (binary version 4 and later, as ctranslate2/specs/model_spec.py writes it, little
endian): u32 version, string spec name, u32 revision, u32 variable count, then per variable:
string name, u8 rank, u32 dims[rank], u8 dtype id, u32 byte count, the bytes. A string is a u16
length (with the NUL) then the bytes and the NUL.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
"""CTranslate2's DataType ids, in order."""
MIN_BINARY_VERSION = 4
_MAX_VARIABLES = 1_000_000
_LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/")


@dataclass(frozen=True)
class Variable:
    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    scalar: int | float | None = None
    """The value of a rank-0 variable (e.g. encoder/num_heads)."""

    @property
    def elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


@dataclass(frozen=True)
class ModelHeader:
    spec_name: str
    binary_version: int
    variables: tuple[Variable, ...]
    file_bytes: int

    def find(self, name: str) -> Variable | None:
        return next((v for v in self.variables if v.name == name), None)

    def layers(self, side: str) -> int:
        indices = {
            int(m.group(2))
            for v in self.variables
            if (m := _LAYER.match(v.name)) and m.group(1) == side
        }
        return max(indices) + 1 if indices else 0

    @property
    def d_model(self) -> int:
        conv = self.find("encoder/conv1/weight")
        if conv is not None and conv.shape:
            return conv.shape[0]
        embeddings = self.find("decoder/embeddings/weight")
        return embeddings.shape[1] if embeddings is not None and len(embeddings.shape) == 2 else 0

    @property
    def encoder_heads(self) -> int:
        heads = self.find("encoder/num_heads")
        return int(heads.scalar) if heads is not None and heads.scalar is not None else 8


class _Pieces:
    """Read and skip across the files of a split model.bin as if they were one."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self._index = 0
        self._file: BinaryIO | None = None
        self.total = sum(p.stat().st_size for p in self._paths)

    def __enter__(self) -> _Pieces:
        return self

    def __exit__(self, *_: object) -> None:
        if self._file is not None:
            self._file.close()

    def _current(self) -> BinaryIO | None:
        while self._file is None and self._index < len(self._paths):
            self._file = self._paths[self._index].open("rb")
        return self._file

    def _advance(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
        self._index += 1

    def read(self, size: int) -> bytes:
        out = bytearray()
        while len(out) < size and (handle := self._current()) is not None:
            data = handle.read(size - len(out))
            if data:
                out += data
            else:
                self._advance()
        if len(out) < size:
            raise ValueError("model.bin ends inside its header")
        return bytes(out)

    def skip(self, size: int) -> None:
        while size > 0 and (handle := self._current()) is not None:
            here = handle.tell()
            end = handle.seek(0, 2)
            step = min(size, end - here)
            handle.seek(here + step)
            size -= step
            if size > 0:
                self._advance()
        if size > 0:
            raise ValueError("model.bin is shorter than its header says")

    def unpack(self, fmt: str) -> tuple[int, ...]:
        return struct.unpack("<" + fmt, self.read(struct.calcsize("<" + fmt)))

    def string(self) -> str:
        (length,) = self.unpack("H")
        return self.read(length).rstrip(b"\0").decode("utf-8", errors="replace")


def _scalar(data: bytes, dtype: str) -> int | float | None:
    formats = {"float32": "f", "int8": "b", "int16": "h", "int32": "i"}
    fmt = formats.get(dtype)
    if fmt is None or len(data) != struct.calcsize(fmt):
        return None
    value: int | float = struct.unpack("<" + fmt, data)[0]
    return value


def read_header(paths: Sequence[Path]) -> ModelHeader:
    """The header of the model.bin made of ``paths`` in order (usually just one file)."""
    with _Pieces(paths) as pieces:
        (version,) = pieces.unpack("I")
        if version < MIN_BINARY_VERSION:
            raise ValueError(f"CTranslate2 model.bin version {version} is too old to estimate")
        spec_name = pieces.string()
        _revision, count = pieces.unpack("II")
        if count > _MAX_VARIABLES:
            raise ValueError("not a CTranslate2 model.bin (implausible variable count)")
        variables = []
        for _ in range(count):
            name = pieces.string()
            (rank,) = pieces.unpack("B")
            shape = pieces.unpack(f"{rank}I") if rank else ()
            dtype_id, nbytes = pieces.unpack("BI")
            if dtype_id >= len(DTYPES):
                raise ValueError(f"unknown CTranslate2 dtype id {dtype_id} in {name}")
            dtype = DTYPES[dtype_id]
            scalar = None
            if rank == 0 and nbytes <= 8:
                scalar = _scalar(pieces.read(nbytes), dtype)
            else:
                pieces.skip(nbytes)
            variables.append(Variable(name, tuple(shape), dtype, nbytes, scalar))
        return ModelHeader(spec_name, version, tuple(variables), pieces.total)
