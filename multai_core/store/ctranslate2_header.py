"""The variable table of a remote CTranslate2 ``model.bin`` (faster-whisper's format), read with
HTTP Range requests and no weights.

Unlike GGUF and safetensors, the table is not one block at the start: each variable's name,
shape and dtype come right before its bytes (u32 version, string spec name, u32 revision, u32
count, then per variable: string name, u8 rank, u32 dims[rank], u8 dtype id, u32 byte count,
the bytes; a string is a u16 length, NUL included, then the bytes). So the walk reads a chunk
where each entry starts, skips its bytes, and keeps every chunk it read: written at their offsets
into a sparse file, they are a stand-in the plugin's own estimate reads unchanged. Small tensors
sit next to each other, so one chunk covers many of them (Whisper base: a few dozen reads).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

CHUNK = 64 * 1024  # above the longest string (u16 length) and the largest entry head
MIN_VERSION = 4
MAX_VERSION = 100  # CTranslate2 4.x writes 6; a zip or pickle reads as millions
MAX_READS = 2048
MAX_VARIABLES = 1_000_000
DTYPE_IDS = 6  # float32, int8, int16, int32, float16, bfloat16

Fetch = Callable[[int, int], bytes]
"""Bytes ``start`` to ``end`` (exclusive) of the remote file."""


class _Walk:
    def __init__(self, fetch: Fetch, size: int) -> None:
        self._fetch, self._size = fetch, size
        self.pos = 0
        self.chunks: list[tuple[int, bytes]] = []
        self._start, self._data = 0, b""

    def read(self, n: int) -> bytes:
        end = self.pos + n
        if n > CHUNK or end > self._size:
            raise ValueError("the file ends inside its variable table")
        if not (self._start <= self.pos and end <= self._start + len(self._data)):
            if len(self.chunks) >= MAX_READS:
                raise ValueError(f"the variable table needs more than {MAX_READS} reads")
            want = min(self._size, self.pos + CHUNK)
            data = self._fetch(self.pos, want)
            if len(data) != want - self.pos:
                raise ValueError("the hub did not answer the range asked for")
            self._start, self._data = self.pos, data
            self.chunks.append((self.pos, data))
        offset = self.pos - self._start
        self.pos = end
        return self._data[offset : offset + n]

    def unpack(self, fmt: str) -> tuple[int, ...]:
        return struct.unpack("<" + fmt, self.read(struct.calcsize("<" + fmt)))

    def skip_string(self) -> None:
        (length,) = self.unpack("H")
        self.read(length)


def variable_table(fetch: Fetch, size: int) -> list[tuple[int, bytes]]:
    """The chunks of the file that hold its whole variable table, as (offset, bytes).
    ValueError if it is not a CTranslate2 model.bin this walk can read."""
    walk = _Walk(fetch, size)
    (version,) = walk.unpack("I")
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise ValueError(f"not a CTranslate2 model.bin of version {MIN_VERSION} or later")
    walk.skip_string()  # the spec name
    _revision, count = walk.unpack("II")
    if count > MAX_VARIABLES:
        raise ValueError("not a CTranslate2 model.bin (implausible variable count)")
    for _ in range(count):
        walk.skip_string()
        (rank,) = walk.unpack("B")
        walk.read(4 * rank)
        dtype, nbytes = walk.unpack("BI")
        if dtype >= DTYPE_IDS:
            raise ValueError(f"unknown CTranslate2 dtype id {dtype}")
        if rank == 0 and nbytes <= 8:
            walk.read(nbytes)  # a scalar (encoder/num_heads): the estimate reads its value
        else:
            walk.pos += nbytes
    return walk.chunks
