"""POST /v1/responses: request -> the chat job every chat completion runs as -> a Response
object, or a stream of Responses events."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog

from multai_core.engine.scheduler import Job
from multai_core.plugin_api.errors import MultaiError
from multai_core.protocol import chat as wire
from multai_core.protocol import responses as api
from multai_core.serving import chat
from multai_core.serving.jobs import collect
from multai_core.serving.responses_input import check_supported, parse_items, to_chat
from multai_core.serving.responses_output import Event, OutputBuilder
from multai_core.serving.services import Services

log = structlog.get_logger(__name__)
_encoder = msgspec.json.Encoder()
Finished = Callable[[api.Response], Awaitable[None]]


@dataclass
class Prepared:
    """A checked request: the chat request it runs as and the Response it becomes."""

    request: api.ResponseRequest
    chat: wire.ChatCompletionRequest
    items: list[api.InputItem]
    """This request's own input items (what input_items lists)."""
    history: list[api.InputItem]
    """The conversation before them (from previous_response_id)."""
    response: api.Response


def _tools_echo(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "name": t.get("name"),
            "description": t.get("description"),
            "parameters": t.get("parameters"),
            "strict": t.get("strict"),
        }
        for t in tools or ()
    ]


def new_response(req: api.ResponseRequest, response_id: str, status: api.Status) -> api.Response:
    text_format = req.text.format if req.text is not None and req.text.format else None
    return api.Response(
        id=response_id,
        created_at=int(time.time()),
        status=status,
        model=req.model,
        output=[],
        instructions=req.instructions,
        metadata=req.metadata or {},
        parallel_tool_calls=req.parallel_tool_calls is not False,
        temperature=req.temperature,
        top_p=req.top_p,
        tool_choice=req.tool_choice or "auto",
        tools=_tools_echo(req.tools),
        max_output_tokens=req.max_output_tokens,
        previous_response_id=req.previous_response_id,
        text={"format": text_format or {"type": "text"}},
        store=req.store is not False,
        background=bool(req.background),
        user=req.user,
        error=None,
        incomplete_details=None,
    )


def prepare(
    req: api.ResponseRequest,
    response_id: str,
    history: list[api.InputItem] | None = None,
) -> Prepared:
    """Every wire check that needs no model (chat.start adds the model's own)."""
    check_supported(req)
    items = parse_items(req.input)
    history = history or []
    status: api.Status = "queued" if req.background else "in_progress"
    return Prepared(
        request=req,
        chat=to_chat(req, [*history, *items]),
        items=items,
        history=history,
        response=new_response(req, response_id, status),
    )


async def start(services: Services, prepared: Prepared, request_id: str) -> Job:
    return await chat.start(services, prepared.chat, request_id)


async def complete(job: Job, prepared: Prepared) -> api.Response:
    builder = OutputBuilder(prepared.response)
    for item in await collect(job):
        builder.feed(item)
    builder.finish()
    return builder.response


def _sse(event: Event) -> bytes:
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + _encoder.encode(event) + b"\n\n"


async def stream(
    job: Job, prepared: Prepared, first: object, finished: Finished | None = None
) -> AsyncIterator[bytes]:
    """The events of a job whose first item has arrived (errors before it are HTTP errors;
    after it, an ``error`` event and ``response.failed``). ``finished`` gets the final
    Response, whatever its status (cancelled when the client left before the end)."""
    builder = OutputBuilder(prepared.response)
    numbers = itertools.count()

    def numbered(event: Event) -> bytes:
        return _sse({**event, "sequence_number": next(numbers)})

    def joined(events: list[Event]) -> bytes:
        return b"".join(numbered(event) for event in events)

    snapshot = msgspec.to_builtins(prepared.response)
    # one write per engine item: the events before the first delta go out with it
    head = joined(
        [
            {"type": "response.created", "response": snapshot},
            {"type": "response.in_progress", "response": snapshot},
        ]
    )
    item: object = first
    failure: MultaiError | None = None
    try:
        while True:
            out = head + (joined(builder.feed(item)) if item is not None else b"")
            head = b""
            if out:
                yield out
            try:
                item = await job.next()
            except StopAsyncIteration:
                break
        yield joined(builder.finish())
    except MultaiError as exc:
        failure = exc
    except Exception as exc:
        log.error("stream_failed", error=type(exc).__name__)
        failure = MultaiError("The response failed; the server log has details.")
    finally:
        if failure is not None:
            builder.fail("server_error", failure.message)
        elif builder.response.status == "in_progress":
            builder.cut("cancelled")  # the client left: its job is cancelled
        if finished is not None:
            # a client that left cancels this generator, and every await in it: the store
            # write runs as a task of its own, shielded, so a cancelled response is kept too
            await asyncio.shield(asyncio.ensure_future(finished(builder.response)))
    if failure is not None:
        yield head + joined(
            [
                {
                    "type": "error",
                    "code": failure.code or failure.type,
                    "message": failure.message,
                    "param": failure.param,
                },
                {"type": "response.failed", "response": msgspec.to_builtins(builder.response)},
            ]
        )
