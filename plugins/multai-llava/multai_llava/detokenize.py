"""Token ids -> text, one token at a time, with no broken characters between pieces.

A character can span several tokens (byte-fallback and byte-level vocabularies split UTF-8
sequences); decoding a token alone then gives U+FFFD. Each step decodes a short window of
recent tokens twice (without and with the newest ones) and emits the difference only when it
does not end in U+FFFD, i.e. once the character is complete. Decoding a window that starts a
few tokens back also keeps word-initial spaces right for SentencePiece vocabularies. The
pieces concatenate to what decoding all tokens at once gives.
"""

from __future__ import annotations

from typing import Any

PROMPT_TAIL = 6
"""Prompt tokens the first window starts with."""
REPLACEMENT = "\ufffd"


class IncrementalDetokenizer:
    def __init__(self, tokenizer: Any, prompt_ids: list[int]) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = list(prompt_ids[-PROMPT_TAIL:])
        self._prefix = 0
        self._read = len(self._ids)

    def _decode(self, ids: list[int]) -> str:
        return str(
            self._tokenizer.decode(
                ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
            )
        )

    def _pending(self) -> str:
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        return after[len(before) :] if len(after) > len(before) else ""

    def push(self, token: int) -> str:
        """Text this token completes (often "", never a dangling partial character)."""
        self._ids.append(token)
        text = self._pending()
        if not text or text.endswith(REPLACEMENT):
            return ""
        self._prefix = self._read
        self._read = len(self._ids)
        return text

    def flush(self) -> str:
        """What is still held back at the end (bytes that never formed a character decode
        to U+FFFD here, as they do in a one-shot decode)."""
        text = self._pending()
        self._prefix = self._read = len(self._ids)
        return text
