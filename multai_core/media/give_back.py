"""Memory back to the system after large decodes.

glibc serves allocations under its mmap threshold from heaps, and raises that threshold (up to
32 MiB) each time a larger block is freed: after a few large images, the decoders' buffers
(Pillow allocates image memory in blocks of a few MiB) come from the heaps of the decode
threads' arenas, and freeing them leaves the pages mapped. RSS then stays at its peak long
after the request. ``malloc_trim(0)`` hands every whole free page of every arena back to the
kernel. Elsewhere (musl, macOS) it is absent and this does nothing."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Callable

_LOCK = threading.Lock()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return trim


def give_back_memory() -> bool:
    """Return free heap memory to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    with _LOCK:  # one walk over the arenas at a time is enough
        trim(0)
    return True
