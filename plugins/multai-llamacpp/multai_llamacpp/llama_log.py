"""llama.cpp's own log (the C library's lines about tensors, contexts and buffers) goes into the
server's log at debug level instead of raw onto stderr. llama-cpp-python installs a callback
that prints warnings and errors to stderr; this one replaces it, process-wide."""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import structlog

log = structlog.get_logger("multai_llamacpp.llama_cpp")

_lock = threading.Lock()
_pending: list[str] = []
_callback: Any = None
"""The ctypes callback, kept referenced: llama.cpp calls it for as long as the process runs."""


def route_llama_log() -> None:
    """Install the callback (once; call after importing llama_cpp, which installs its own)."""
    global _callback
    import llama_cpp

    with _lock:
        if _callback is not None:
            return
        _callback = llama_cpp.llama_log_callback(_on_log)
        llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))


def _on_log(level: int, text: bytes | None, _user_data: object) -> None:
    # llama.cpp sends a line in pieces (progress dots, continuations): log whole lines only.
    try:
        piece = (text or b"").decode("utf-8", errors="replace")
        with _lock:
            _pending.append(piece)
            if not piece.endswith("\n"):
                return
            line = "".join(_pending).strip()
            _pending.clear()
        if line.strip("."):
            # at debug even for llama.cpp's warnings: a line may quote a token of the vocabulary
            log.debug("llama_cpp_log", ggml_level=level, line=line)
    except Exception:  # noqa: S110 - an exception must never unwind into llama.cpp's C code
        pass
