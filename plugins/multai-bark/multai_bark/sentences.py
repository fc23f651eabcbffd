"""Splitting text into pieces Bark can speak in one generation (about 13 seconds).

Sentences end at . ! ? and the ellipsis (and at the CJK full stop, exclamation and question
marks, which need no space after them); common abbreviations and initials do not end one. A
sentence longer than the limit is cut at its clauses (commas, semicolons, colons, dashes), then
between words. Short neighbouring sentences of one paragraph are packed into one piece up to
the limit, so a list of short lines does not cost one generation each; a blank line (a
heading, a new paragraph) always starts a new piece.
"""

from __future__ import annotations

import re

_CJK_ENDS = "\u3002\uff01\uff1f"  # ideographic full stop, fullwidth ! and ?
_CJK_CLAUSES = "\uff0c\uff1b\uff1a\u3001"  # fullwidth , ; : and the ideographic comma
_CLOSERS = "\"'\u201d\u2019\u00bb)\\]"  # closing quotes and brackets
_DASHES = "\u2014\u2013-"
_BOUNDARY = re.compile(
    rf"(?<=[.!?\u2026])[{_CLOSERS}]*\s+(?=\S)"  # end punctuation, closers, then space
    rf"|(?<=[{_CJK_ENDS}])"  # CJK end punctuation needs no space
)
_CLAUSE = re.compile(rf"(?<=[,;:{_CJK_CLAUSES}])\s*|\s+(?=[{_DASHES}]\s)")
_ABBREVIATION = re.compile(
    r"(?:\b(?i:mr|mrs|ms|dr|prof|sr|jr|st|vs|etc|e\.g|i\.e|cf|fig|approx|a\.m|p\.m)\.|\b[A-Z]\.)$"
)
_SPACES = re.compile(r"\s+")
_PARAGRAPH = re.compile(r"\n\s*\n")


def _sentences(text: str) -> list[str]:
    sentences: list[str] = []
    pending = ""
    start = 0
    for match in _BOUNDARY.finditer(text):
        piece = text[start : match.end()]
        start = match.end()
        candidate = pending + piece
        if _ABBREVIATION.search(candidate.rstrip()):
            pending = candidate
            continue
        sentences.append(candidate)
        pending = ""
    sentences.append(pending + text[start:])
    return [s for s in (_SPACES.sub(" ", s).strip() for s in sentences) if s]


def _cut(piece: str, limit: int) -> list[str]:
    """A piece over the limit, cut at clauses, then words, then characters."""
    if len(piece) <= limit:
        return [piece]
    for splitter in (_CLAUSE, _SPACES):
        parts = [p for p in splitter.split(piece) if p.strip()]
        if len(parts) > 1:
            return [cut for part in _pack(parts, limit) for cut in _cut(part, limit)]
    return [piece[i : i + limit] for i in range(0, len(piece), limit)]


def _pack(parts: list[str], limit: int) -> list[str]:
    packed: list[str] = []
    current = ""
    for part in parts:
        part = part.strip()
        if current and len(current) + 1 + len(part) <= limit:
            current = f"{current} {part}"
            continue
        if current:
            packed.append(current)
        current = part
    if current:
        packed.append(current)
    return packed


def split_text(text: str, max_chars: int) -> list[str]:
    """Pieces of at most ``max_chars`` characters, in order, that together say all of ``text``."""
    packed: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        pieces = [cut for sentence in _sentences(paragraph) for cut in _cut(sentence, max_chars)]
        packed.extend(_pack(pieces, max_chars))
    return packed
