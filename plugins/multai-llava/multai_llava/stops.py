"""Stop sequences over streamed text: text that might be the start of a stop sequence is held
back until it is known not to be one."""

from __future__ import annotations


class StopScanner:
    def __init__(self, stops: list[str]) -> None:
        self._stops = [s for s in stops if s]
        self._pending = ""
        self.stopped = False

    def push(self, text: str) -> str:
        """The part of the text so far that is safe to send."""
        if self.stopped:
            return ""
        self._pending += text
        cut = min((i for s in self._stops if (i := self._pending.find(s)) >= 0), default=None)
        if cut is not None:
            self.stopped = True
            out, self._pending = self._pending[:cut], ""
            return out
        keep = self._held_back()
        out = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(out) :]
        return out

    def finish(self) -> str:
        out, self._pending = ("" if self.stopped else self._pending), ""
        return out

    def _held_back(self) -> int:
        longest = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(self._pending)), longest, -1):
                if self._pending.endswith(stop[:n]):
                    longest = n
                    break
        return longest
