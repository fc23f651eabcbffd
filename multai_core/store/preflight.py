"""Before a download: free disk, and a stand-in of the model made of its headers alone.

The stand-in is a folder shaped like the real model: small files whole, GGUF and safetensors
files as SPARSE files of their full size holding only the header bytes (fetched with HTTP Range
requests), so the plugin's own estimate hook reads them unchanged and no disk is used for the
weights. A CTranslate2 model.bin holds the chunks its variable table is spread over
(ctranslate2_header); other weights are sparse files of zeros of the right size."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from multai_core.plugin_api.types import MemoryEstimate, ModelSpec, Placement
from multai_core.store.catalog import PullRefused, human_size
from multai_core.store.ctranslate2_header import variable_table
from multai_core.store.hub import Snapshot, read_range

SMALL_FILE_BYTES = 4 * 1024 * 1024  # config and tokenizer files: fetched whole
FIRST_RANGE = 256 * 1024
MAX_HEADER_BYTES = 256 * 1024 * 1024  # a header larger than this is not a header
_GGUF_SCALARS = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def free_bytes(folder: Path) -> int:
    """Free space on the filesystem that holds ``folder`` (or its nearest existing parent)."""
    for path in (folder, *folder.parents):
        if path.exists():
            return shutil.disk_usage(path).free
    return 0


def check_disk(need: int, folder: Path, free: int | None = None) -> None:
    free = free_bytes(folder) if free is None else free
    if need > free:
        raise PullRefused(
            f"the model needs {human_size(need)} but the disk under {folder} has "
            f"{human_size(free)} free: free some space or set [server].models_dir elsewhere"
        )


def stand_in(snap: Snapshot, files: tuple[str, ...], folder: Path) -> None:
    """Write the header-only stand-in of ``files`` into ``folder``."""
    for path in files:
        size = snap.files[path].size
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.endswith(".gguf"):
            parts = [(0, _gguf_header(snap, path, size))]
        elif path.endswith(".safetensors"):
            parts = [(0, _safetensors_header(snap, path, size))]
        elif size <= SMALL_FILE_BYTES:
            parts = [(0, read_range(snap, path, 0, size) if size else b"")]
        elif path.rsplit("/", 1)[-1] == "model.bin":
            parts = _ctranslate2_table(snap, path, size)
        else:
            parts = []
        with target.open("wb") as out:
            for offset, data in parts:
                out.seek(offset)
                out.write(data)
            out.truncate(size)  # sparse: the rest takes no disk


def _ctranslate2_table(snap: Snapshot, path: str, size: int) -> list[tuple[int, bytes]]:
    try:
        return variable_table(lambda start, end: read_range(snap, path, start, end), size)
    except ValueError:
        return []  # not CTranslate2 (a pickle named model.bin): the estimate says it has none


def _safetensors_header(snap: Snapshot, path: str, size: int) -> bytes:
    first = read_range(snap, path, 0, min(size, FIRST_RANGE))
    if len(first) < 8:
        raise PullRefused(f"{path} of {snap.repo} is too short to be a safetensors file")
    length = 8 + struct.unpack_from("<Q", first)[0]
    if length > min(size, MAX_HEADER_BYTES):
        raise PullRefused(f"{path} of {snap.repo} has no valid safetensors header")
    return first if length <= len(first) else read_range(snap, path, 0, length)


def _gguf_header(snap: Snapshot, path: str, size: int) -> bytes:
    """Fetch a growing prefix until the key/values and tensor infos are all in it."""
    wanted = min(size, FIRST_RANGE)
    while True:
        head = read_range(snap, path, 0, wanted)
        end = gguf_header_end(head)
        if end is not None:
            return head[:end]
        if wanted >= min(size, MAX_HEADER_BYTES):
            raise PullRefused(f"{path} of {snap.repo} has no readable GGUF header")
        wanted = min(size, MAX_HEADER_BYTES, wanted * 4)


class _Short(Exception):
    pass


def gguf_header_end(data: bytes) -> int | None:
    """Where a GGUF file's tensor infos end, or None if ``data`` stops before that.
    ValueError if it is not a GGUF file."""
    if len(data) >= 4 and data[:4] != b"GGUF":
        raise PullRefused("the file does not start with GGUF: it is not a GGUF model")
    pos = 0

    def take(n: int) -> int:
        nonlocal pos
        if pos + n > len(data):
            raise _Short
        pos += n
        return pos - n

    def u32() -> int:
        return int(struct.unpack_from("<I", data, take(4))[0])

    def u64() -> int:
        return int(struct.unpack_from("<Q", data, take(8))[0])

    def value(kind: int) -> None:
        if kind in _GGUF_SCALARS:
            take(_GGUF_SCALARS[kind])
        elif kind == 8:
            take(u64())
        elif kind == 9:
            inner, count = u32(), u64()
            if inner in _GGUF_SCALARS:
                take(_GGUF_SCALARS[inner] * count)
            else:
                for _ in range(count):
                    value(inner)
        else:
            raise PullRefused(f"unknown GGUF value type {kind}")

    try:
        take(8)  # magic, version
        tensors, kvs = u64(), u64()
        for _ in range(kvs):
            take(u64())
            value(u32())
        for _ in range(tensors):
            take(u64())
            take(8 * u32())
            take(4 + 8)  # type, offset
    except _Short:
        return None
    return pos


class Planner(Protocol):
    """The memory manager, as far as a pull needs it."""

    def plan(self, spec: ModelSpec) -> tuple[MemoryEstimate, Placement | None]: ...


@dataclass(frozen=True)
class Assessment:
    """What the memory planner says about a model: one line for the user, and whether it fits."""

    text: str
    fits: bool


def assessor(installed: Collection[str], planner: Planner) -> Callable[[ModelSpec], Assessment]:
    """The installed plugins' estimate and this machine's placement, in one line.
    ``installed``: the backends that have a plugin here."""

    def assess(spec: ModelSpec) -> Assessment:
        if spec.backend not in installed:
            return Assessment(
                f"backend {spec.backend} is not installed here (pip install "
                f"multai-{spec.backend}): no memory estimate",
                fits=True,
            )
        try:
            estimate, placement = planner.plan(spec)
        except Exception as exc:  # a plugin's estimate on a stand-in: report, do not stop
            return Assessment(f"no memory estimate: {type(exc).__name__}: {exc}"[:300], True)
        need = f"needs {estimate.cpu_bytes / 2**20:.0f} MiB of RAM on the CPU"
        if estimate.gpu_bytes:
            need += f", {estimate.gpu_bytes / 2**20:.0f} MiB on a GPU"
        if placement is None:
            return Assessment(f"{need}; does not fit in the memory free now", fits=False)
        return Assessment(f"{need}; would load on {placement.kind} ({placement.device})", True)

    return assess
