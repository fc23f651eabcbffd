"""The engine's TextDeltas and Usage folded into a Response's output items, with the stream
events OpenAI sends for each step (the JSON answer is the same fold, its events unused)."""

from __future__ import annotations

import time
from typing import Any, Literal

import msgspec

from multai_core.plugin_api.results import TextDelta, Usage
from multai_core.protocol import responses as api
from multai_core.serving.responses_input import new_id

Event = dict[str, Any]


def _plain(value: object) -> Any:
    return msgspec.to_builtins(value)


def usage_of(usage: Usage) -> api.ResponseUsage:
    return api.ResponseUsage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.prompt_tokens + usage.completion_tokens,
        input_tokens_details=api.InputTokensDetails(cached_tokens=usage.cached_tokens),
        output_tokens_details=api.OutputTokensDetails(),
    )


class OutputBuilder:
    """Feed it what the job yields, then call :meth:`finish` (or :meth:`fail`)."""

    def __init__(self, response: api.Response) -> None:
        self.response = response
        self._message: api.OutputMessage | None = None
        self._text: list[str] = []
        self._calls: dict[int, api.FunctionCall] = {}
        self._arguments: dict[int, list[str]] = {}
        self._open_calls: list[int] = []
        self._finish_reason: str | None = None

    def _index(self, item: api.OutputItem) -> int:
        return self.response.output.index(item)

    def feed(self, item: object) -> list[Event]:
        if isinstance(item, Usage):
            self.response.usage = usage_of(item)
            return []
        if not isinstance(item, TextDelta) or item.index != 0:
            return []
        events: list[Event] = []
        if item.text:
            events += self._text_delta(item.text)
        for piece in item.tool_calls or ():
            call = self._calls.get(piece.index)
            if call is None:
                events += self._close_message()
                call = api.FunctionCall(
                    id=new_id("fc"),
                    call_id=piece.id or new_id("call"),
                    name=piece.name or "",
                    arguments="",
                    status="in_progress",
                )
                self._calls[piece.index] = call
                self._arguments[piece.index] = []
                self._open_calls.append(piece.index)
                self.response.output.append(call)
                events.append(
                    {
                        "type": "response.output_item.added",
                        "output_index": self._index(call),
                        "item": _plain(call),
                    }
                )
            elif piece.name:
                call.name = piece.name
            if piece.arguments:
                self._arguments[piece.index].append(piece.arguments)
                events.append(
                    {
                        "type": "response.function_call_arguments.delta",
                        "item_id": call.id,
                        "output_index": self._index(call),
                        "delta": piece.arguments,
                    }
                )
        if item.finish_reason is not None:
            self._finish_reason = item.finish_reason
        return events

    def _text_delta(self, text: str) -> list[Event]:
        events: list[Event] = []
        message = self._message
        if message is None:
            message = api.OutputMessage(id=new_id("msg"), status="in_progress", content=[])
            self._message = message
            self.response.output.append(message)
            where = {"item_id": message.id, "output_index": self._index(message)}
            events.append(
                {
                    "type": "response.output_item.added",
                    "output_index": where["output_index"],
                    "item": _plain(message),
                }
            )
            events.append(
                {
                    "type": "response.content_part.added",
                    **where,
                    "content_index": 0,
                    "part": _plain(api.OutputText(text="")),
                }
            )
        self._text.append(text)
        events.append(
            {
                "type": "response.output_text.delta",
                "item_id": message.id,
                "output_index": self._index(message),
                "content_index": 0,
                "delta": text,
                "logprobs": [],
            }
        )
        return events

    def _item_status(self) -> Literal["completed", "incomplete"]:
        return "incomplete" if self._finish_reason == "length" else "completed"

    def _close_message(self) -> list[Event]:
        message = self._message
        if message is None or message.status != "in_progress":
            return []
        text = "".join(self._text)
        part = api.OutputText(text=text)
        message.content = [part]
        message.status = self._item_status()
        where = {"item_id": message.id, "output_index": self._index(message), "content_index": 0}
        return [
            {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
            {"type": "response.content_part.done", **where, "part": _plain(part)},
            {
                "type": "response.output_item.done",
                "output_index": where["output_index"],
                "item": _plain(message),
            },
        ]

    def _close_calls(self) -> list[Event]:
        events: list[Event] = []
        for index in self._open_calls:
            call = self._calls[index]
            call.arguments = "".join(self._arguments[index])
            call.status = self._item_status()
            where = {"item_id": call.id, "output_index": self._index(call)}
            events.append(
                {
                    "type": "response.function_call_arguments.done",
                    **where,
                    "name": call.name,
                    "arguments": call.arguments,
                }
            )
            events.append(
                {
                    "type": "response.output_item.done",
                    "output_index": where["output_index"],
                    "item": _plain(call),
                }
            )
        self._open_calls = []
        return events

    def finish(self) -> list[Event]:
        """Close the open items; the last event is response.completed or response.incomplete."""
        events = self._close_message() + self._close_calls()
        response = self.response
        if self._finish_reason == "length":
            response.status = "incomplete"
            response.incomplete_details = api.IncompleteDetails(reason="max_output_tokens")
            kind = "response.incomplete"
        else:
            response.status = "completed"
            response.completed_at = int(time.time())
            kind = "response.completed"
        events.append({"type": kind, "response": _plain(response)})
        return events

    def cut(self, status: Literal["cancelled", "failed"]) -> None:
        """End before the model did: what was produced stays, its items incomplete."""
        self._finish_reason = "length"
        self._close_message()
        self._close_calls()
        self.response.status = status

    def fail(self, code: str, message: str) -> None:
        self.cut("failed")
        self.response.error = api.ResponseError(code=code, message=message)
