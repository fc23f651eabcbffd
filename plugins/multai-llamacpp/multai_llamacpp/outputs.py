"""How generated text becomes TextDelta items: plain text, a forced tool call, or text with
tool calls parsed out of it."""

from __future__ import annotations

from typing import Protocol

from multai_core.plugin_api import TextDelta, ToolCallDelta
from multai_llamacpp.textstream import Piece
from multai_llamacpp.tools import AutoToolParser, ForcedCallParser


class Output(Protocol):
    @property
    def calls(self) -> int: ...

    def feed(self, piece: Piece) -> list[TextDelta]: ...

    def finish(self, complete: bool) -> list[TextDelta]: ...


class PlainOutput:
    calls = 0

    def __init__(self, index: int) -> None:
        self._index = index

    def feed(self, piece: Piece) -> list[TextDelta]:
        if not piece:
            return []
        return [TextDelta(index=self._index, text=piece.text, logprobs=piece.logprobs or None)]

    def finish(self, complete: bool) -> list[TextDelta]:  # noqa: ARG002
        return []


class ForcedCallOutput:
    def __init__(self, index: int) -> None:
        self._index = index
        self._parser = ForcedCallParser()

    @property
    def calls(self) -> int:
        return self._parser.calls

    def _wrap(self, deltas: list[ToolCallDelta]) -> list[TextDelta]:
        return [TextDelta(index=self._index, tool_calls=[d]) for d in deltas]

    def feed(self, piece: Piece) -> list[TextDelta]:
        return self._wrap(self._parser.feed(piece.text)) if piece.text else []

    def finish(self, complete: bool) -> list[TextDelta]:
        return self._wrap(self._parser.finish(complete))


class AutoToolOutput:
    def __init__(self, index: int, tool_names: set[str]) -> None:
        self._index = index
        self._parser = AutoToolParser(tool_names)

    @property
    def calls(self) -> int:
        return self._parser.calls

    def _wrap(self, items: list[str | ToolCallDelta], piece: Piece | None) -> list[TextDelta]:
        out: list[TextDelta] = []
        logprobs = piece.logprobs if piece is not None else []
        for item in items:
            if isinstance(item, str):
                out.append(TextDelta(index=self._index, text=item, logprobs=logprobs or None))
                logprobs = []
            else:
                out.append(TextDelta(index=self._index, tool_calls=[item]))
        return out

    def feed(self, piece: Piece) -> list[TextDelta]:
        return self._wrap(self._parser.feed(piece.text), piece) if piece.text else []

    def finish(self, complete: bool) -> list[TextDelta]:  # noqa: ARG002
        return self._wrap(self._parser.finish(), None)
