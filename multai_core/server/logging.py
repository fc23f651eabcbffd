"""One log: structlog's events and the standard library's records (uvicorn's, libraries') go
through one handler on stderr, as JSON lines when stderr is not a terminal and readable lines
when it is. Request content never reaches this log: handlers log ids, sizes and timings only."""

from __future__ import annotations

import io
import logging
import os
import sys
from typing import TextIO

import structlog

# The core's libraries whose INFO lines can be request-derived (httpx logs each URL it fetches,
# remote images included) or are chatter: only their warnings are kept. Packs quiet their own
# libraries the same way when they load.
QUIET_LIBRARIES = ("httpx", "httpcore", "urllib3", "PIL", "multipart")

_stream: TextIO | None = None


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    stream = _log_stream()
    json_output = fmt == "json" or (fmt == "auto" and not stream.isatty())
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    rendering: list[structlog.typing.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if json_output
        else [structlog.dev.ConsoleRenderer()]
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
        )
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    logging.captureWarnings(True)  # warnings.warn() as log records, not raw stderr text


def _log_stream() -> TextIO:
    """A stream on a duplicate of stderr's file descriptor: llama-cpp-python points fd 2 at
    /dev/null while it loads a model, which would otherwise drop every other thread's lines."""
    global _stream
    if _stream is None:
        try:
            fd = os.dup(sys.stderr.fileno())
        except (AttributeError, OSError, io.UnsupportedOperation):
            return sys.stderr
        _stream = os.fdopen(fd, "w", buffering=1, encoding="utf-8", errors="backslashreplace")
    return _stream
