"""Token bytes -> text pieces: incremental UTF-8 decoding, stop sequences (never emitting text
that may turn out to be the start of one) and logprobs kept with the text they belong to."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

from multai_core.plugin_api import TokenLogprob


@dataclass
class Piece:
    text: str = ""
    logprobs: list[TokenLogprob] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.text or self.logprobs)


class TextAssembler:
    def __init__(self, stops: list[str]) -> None:
        self._stops = [s for s in stops if s]
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._pending_lp: list[tuple[int, TokenLogprob]] = []
        self.stopped = False
        self.matched: str | None = None
        """The stop string that ended the text (the first in the text; the first listed of
        those that start at the same place)."""
        self.text_so_far = ""

    def push(self, data: bytes, logprob: TokenLogprob | None = None) -> Piece:
        start = len(self._pending)
        self._pending += self._decoder.decode(data)
        if logprob is not None:
            self._pending_lp.append((start, logprob))
        cut = self._first_stop()
        if cut is not None:
            self.stopped = True
            self.matched = next(s for s in self._stops if self._pending.startswith(s, cut))
            piece = self._emit(cut)
            self._pending = ""
            self._pending_lp = []
            return piece
        return self._emit(len(self._pending) - self._held_back())

    def finish(self) -> Piece:
        """Everything still held back (the stream ended without completing a stop)."""
        if self.stopped:
            return Piece()
        self._pending += self._decoder.decode(b"", final=True)
        return self._emit(len(self._pending), flush=True)

    def _first_stop(self) -> int | None:
        best: int | None = None
        for stop in self._stops:
            idx = self._pending.find(stop)
            if idx >= 0 and (best is None or idx < best):
                best = idx
        return best

    def _held_back(self) -> int:
        """Length of the longest tail of the pending text that starts some stop sequence."""
        longest = 0
        text = self._pending
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:n]):
                    longest = n
                    break
        return longest

    def _emit(self, upto: int, *, flush: bool = False) -> Piece:
        text = self._pending[:upto]
        if flush:
            lps = [lp for _, lp in self._pending_lp]
            rest: list[tuple[int, TokenLogprob]] = []
        else:
            lps = [lp for start, lp in self._pending_lp if start < upto]
            rest = [(start - upto, lp) for start, lp in self._pending_lp if start >= upto]
        # A token whose bytes did not complete a character yet has no text of its own; it goes
        # out with the text that completes it.
        self._pending = self._pending[upto:]
        self._pending_lp = rest
        self.text_so_far += text
        return Piece(text=text, logprobs=lps)
