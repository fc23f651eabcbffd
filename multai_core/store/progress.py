"""Download progress: per file and overall, with bytes, rate and ETA. On a terminal one line
redrawn in place; otherwise (a log, a pipe) plain lines, one per file start, quarter and end."""

from __future__ import annotations

import time
from typing import TextIO

MiB = 1024 * 1024
REDRAW_S = 0.2


def _mib(n: float) -> str:
    return f"{n / MiB:.1f} MiB"


def _eta(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, out: TextIO, total_bytes: int, *, terminal: bool | None = None) -> None:
        self.out = out
        self.terminal = out.isatty() if terminal is None else terminal
        self.total = total_bytes
        self.done = 0
        self._file = ""
        self._file_size = 0
        self._file_done = 0
        self._started = time.monotonic()
        self._fresh = 0  # bytes fetched now (not resumed): the rate counts these only
        self._drawn = 0.0
        self._quarter = 0

    def start_file(self, path: str, size: int) -> None:
        self._file, self._file_size, self._file_done, self._quarter = path, size, 0, 0
        if not self.terminal:
            self._line(f"{path}: {_mib(size)}")

    def resumed(self, nbytes: int) -> None:
        self._file_done += nbytes
        self.done += nbytes
        if not self.terminal:
            self._line(f"{self._file}: resuming at {_mib(self._file_done)}")

    def advance(self, nbytes: int) -> None:
        self._file_done += nbytes
        self.done += nbytes
        self._fresh += nbytes
        now = time.monotonic()
        if self.terminal and now - self._drawn >= REDRAW_S:
            self._drawn = now
            self.out.write("\r\x1b[K" + self._status())
            self.out.flush()
        elif not self.terminal and self._file_size:
            quarter = 4 * self._file_done // self._file_size
            if quarter > self._quarter and quarter < 4:
                self._quarter = quarter
                self._line(self._status())

    def end_file(self) -> None:
        if self.terminal:
            self.out.write("\r\x1b[K")
        self._line(f"{self._file}: done, {_mib(self._file_size)}; {self._overall()}")

    def _status(self) -> str:
        pct = 100 * self._file_done // max(self._file_size, 1)
        head = f"{self._file} {pct}% {_mib(self._file_done)}/{_mib(self._file_size)}"
        return f"{head}; {self._overall()}"

    def _overall(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = self._fresh / elapsed
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        return f"total {_mib(self.done)}/{_mib(self.total)}, {_mib(rate)}/s, ETA {_eta(left)}"

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()
