"""Cutting a long sentence's phonemes into pieces one inference speaks with bounded memory.

espeak-ng already splits the text into sentences; a sentence longer than the limit is cut after
a clause mark (comma, semicolon, colon) in the second half of the window, else at the last word
boundary, else hard at the limit. The limit shrinks as the pace slows, so a piece never makes
more audio than ``max_piece_phonemes`` makes at the voice's own pace."""

from __future__ import annotations

from collections.abc import Container

CLAUSE_MARKS = frozenset(",;:")
WORD_BREAK = frozenset(" ")
MIN_PIECE_PHONEMES = 10


def piece_limit(max_piece_phonemes: int, length_scale: float) -> int:
    return max(MIN_PIECE_PHONEMES, int(max_piece_phonemes / max(1.0, length_scale)))


def _cut_after(window: list[str], marks: Container[str], earliest: int) -> int | None:
    for index in range(len(window) - 1, earliest - 1, -1):
        if window[index] in marks:
            return index + 1
    return None


def _strip(piece: list[str]) -> list[str]:
    start, end = 0, len(piece)
    while start < end and piece[start] in WORD_BREAK:
        start += 1
    while end > start and piece[end - 1] in WORD_BREAK:
        end -= 1
    return piece[start:end]


def split_phonemes(phonemes: list[str], limit: int) -> list[list[str]]:
    """Pieces of at most ``limit`` phonemes, in order, that together say all of ``phonemes``."""
    pieces: list[list[str]] = []
    rest = _strip(phonemes)
    while len(rest) > limit:
        window = rest[:limit]
        cut = (
            _cut_after(window, CLAUSE_MARKS, limit // 2)
            or _cut_after(window, WORD_BREAK, 1)
            or limit
        )
        pieces.append(_strip(rest[:cut]))
        rest = _strip(rest[cut:])
    pieces.append(rest)
    return [piece for piece in pieces if piece]
