"""The variable table of a remote CTranslate2 model.bin, walked with range reads: each chunk
read starts where an entry starts, tensors are skipped, a file that is not one is refused."""

from __future__ import annotations

import struct

import pytest

from multai_core.store.ctranslate2_header import CHUNK, variable_table


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def model_bin(tensors: list[tuple[str, tuple[int, ...], int]]) -> bytes:
    """A version 6 model.bin of float32 tensors (name, shape, value byte)."""
    out = struct.pack("<I", 6) + _string("WhisperSpec") + struct.pack("<II", 1, len(tensors))
    for name, shape, fill in tensors:
        size = 4
        for dim in shape:
            size *= dim
        out += _string(name) + struct.pack(f"<B{len(shape)}I", len(shape), *shape)
        out += struct.pack("<BI", 0, size) + bytes([fill]) * size
    return out


def test_the_walk_reads_each_entry_and_skips_the_tensors() -> None:
    big = (CHUNK // 4) * 3  # three chunks of weights between entries
    data = model_bin([("encoder/num_heads", (), 1), ("a/weight", (big,), 7), ("b/bias", (8,), 9)])
    reads: list[tuple[int, int]] = []

    def fetch(start: int, end: int) -> bytes:
        reads.append((start, end))
        return data[start:end]

    chunks = variable_table(fetch, len(data))
    assert len(reads) == 2  # the head with the scalar and a/weight's entry, then b/bias
    stand_in = bytearray(len(data))
    for offset, chunk in chunks:
        stand_in[offset : offset + len(chunk)] = chunk
    tail = data.index(_string("b/bias"))
    assert stand_in[tail:] == data[tail:]  # the last entry and its bytes, read whole
    assert sum(end - start for start, end in reads) < len(data) // 2


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"PK\3\4" + bytes(100), "not a CTranslate2 model.bin"),  # a zip (a torch pickle)
        (model_bin([("w", (4,), 1)])[:-20], "ends inside its variable table"),
        (struct.pack("<I", 6) + _string("S") + struct.pack("<II", 1, 2**31), "implausible"),
    ],
)
def test_what_is_not_a_readable_table_is_refused(data: bytes, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        variable_table(lambda start, end: data[start:end], len(data))
