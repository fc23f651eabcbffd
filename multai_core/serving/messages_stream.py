"""A Messages stream: Anthropic's named events (message_start, ping, content blocks with their
deltas, message_delta, message_stop) from the chat job's TextDeltas, and a failure after the
start as Anthropic's `event: error`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import structlog

from multai_core.engine.scheduler import Job
from multai_core.plugin_api.errors import InferenceFailed, MultaiError
from multai_core.plugin_api.results import TextDelta, ToolCallDelta, Usage
from multai_core.protocol import anthropic as a
from multai_core.serving.messages import stop_reason
from multai_core.serving.messages_errors import of_exception

log = structlog.get_logger(__name__)
_encoder = msgspec.json.Encoder()


def event(payload: msgspec.Struct) -> bytes:
    """``event: <type>`` and ``data: <json>``, as Anthropic's SDK reads them (every event
    struct is tagged with its type)."""
    kind = str(payload.__struct_config__.tag)
    return b"event: " + kind.encode() + b"\ndata: " + _encoder.encode(payload) + b"\n\n"


class _Blocks:
    """The content block being written: text, or one tool call (keyed by its engine index)."""

    def __init__(self) -> None:
        self.index = -1
        self.open: str | int | None = None  # "text", a tool call's index, or None
        self.called = False

    def close(self) -> list[bytes]:
        if self.open is None:
            return []
        self.open = None
        return [event(a.ContentBlockStop(index=self.index))]

    def text(self, text: str) -> list[bytes]:
        out = [] if self.open == "text" else self._start(a.TextBlock(text=""), "text")
        delta = a.ContentBlockDelta(index=self.index, delta=a.TextDelta(text=text))
        return [*out, event(delta)]

    def tool(self, piece: ToolCallDelta) -> list[bytes]:
        out: list[bytes] = []
        if self.open != piece.index:
            self.called = True
            block = a.ToolUseBlock(id=piece.id or "", name=piece.name or "", input={})
            out = self._start(block, piece.index)
        if piece.arguments:
            delta = a.InputJsonDelta(partial_json=piece.arguments)
            out.append(event(a.ContentBlockDelta(index=self.index, delta=delta)))
        return out

    def _start(self, block: a.TextBlock | a.ToolUseBlock, key: str | int) -> list[bytes]:
        out = self.close()
        self.index += 1
        self.open = key
        return [*out, event(a.ContentBlockStart(index=self.index, content_block=block))]


async def stream(
    job: Job, req: a.MessagesRequest, message_id: str, first: object
) -> AsyncIterator[bytes]:
    """Events for a job whose first item has already arrived (errors before it are HTTP
    errors; after it, an error event)."""
    start = a.Message(
        id=message_id,
        model=req.model,
        content=[],
        stop_reason=None,
        stop_sequence=None,
        usage=a.Usage(input_tokens=0, output_tokens=0),
    )
    yield event(a.MessageStart(message=start))
    yield event(a.Ping())
    blocks = _Blocks()
    finish: str | None = None
    matched: str | None = None
    item: object = first
    try:
        while True:
            if isinstance(item, TextDelta) and item.index == 0:
                for piece in item.tool_calls or ():
                    for chunk in blocks.tool(piece):
                        yield chunk
                if item.text:
                    for chunk in blocks.text(item.text):
                        yield chunk
                finish = item.finish_reason or finish
                matched = item.stop_sequence or matched
            elif isinstance(item, Usage):
                for chunk in blocks.close():
                    yield chunk
                reason = stop_reason(finish, blocks.called, matched)
                yield event(
                    a.MessageDelta(
                        delta=a.StopDelta(
                            stop_reason=reason,
                            stop_sequence=matched if reason == "stop_sequence" else None,
                        ),
                        usage=a.DeltaUsage(
                            output_tokens=item.completion_tokens, input_tokens=item.prompt_tokens
                        ),
                    )
                )
                yield event(a.MessageStop())
            try:
                item = await job.next()
            except StopAsyncIteration:
                return
    except MultaiError as exc:
        yield event(of_exception(exc)[1])
    except Exception as exc:
        log.error("stream_failed", error=type(exc).__name__)
        failed = InferenceFailed("The stream failed; the server log has details.")
        yield event(of_exception(failed)[1])
