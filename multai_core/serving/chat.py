"""POST /v1/chat/completions: request -> job -> ChatCompletion or a stream of chunks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from multai_core.engine.scheduler import Job
from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import InvalidRequest
from multai_core.plugin_api.results import RawImage, TextDelta, Usage
from multai_core.plugin_api.tasks import TaskKind
from multai_core.plugin_api.types import ModelSpec
from multai_core.protocol.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    ChunkDelta,
    FunctionCallDelta,
    ToolCallChunk,
)
from multai_core.protocol.common import Usage as WireUsage
from multai_core.protocol.common import effective_priority
from multai_core.serving import sse
from multai_core.serving.chat_images import ImageLimits, prepare_images
from multai_core.serving.chat_task import chat_task, check
from multai_core.serving.jobs import collect, submit
from multai_core.serving.services import Services
from multai_core.serving.text import fold, wire_logprobs, wire_usage


def check_caller(spec: ModelSpec, req: ChatCompletionRequest) -> None:
    """The caller's access to the model and priority, checked before any image work, so that
    no one makes this server decode or fetch for a model it may not use (submit checks it
    again)."""
    principal.current().check(
        model=spec.name,
        aliases=spec.aliases,
        priority=effective_priority(req.priority, req.service_tier),
    )


async def start(
    services: Services,
    req: ChatCompletionRequest,
    request_id: str,
    images: list[RawImage] | None = None,
) -> Job:
    """Check and queue a chat request. For a model that sees images, the request's images are
    decoded and checked before queueing, off the event loop, after the caller's access is
    checked (no one makes this server fetch or decode for a model it may not use). Pass
    ``images`` when they were prepared already (one per image part, in message order)."""
    spec = services.registry.resolve(req.model)
    tasks = services.registry.tasks_of(spec)
    has_images = any(m.has_images() for m in req.messages)
    if has_images and "vision" not in tasks:
        raise InvalidRequest(
            f"The model '{req.model}' cannot see images; send text only or use a vision model.",
            param="messages",
            code="image_not_supported",
        )
    if has_images and images is None:
        check(req)  # the wire's refusals before any image work (chat_task checks them too)
        check_caller(spec, req)
        images = await prepare_images(
            req, ImageLimits.of(services.config.server), services.decoding
        )
    # "vision" tells a backend that serves both kinds that this task carries images
    sees = "vision" in tasks and (has_images or "chat" not in tasks)
    kind: TaskKind = "vision" if sees else "chat"
    return submit(
        services,
        request_id=request_id,
        kind=kind,
        payload=chat_task(req, images or []),
        model=req.model,
        priority=req.priority,
        service_tier=req.service_tier,
        gpu_layers=req.n_gpu_layers,
    )


async def complete(job: Job, req: ChatCompletionRequest, response_id: str) -> ChatCompletion:
    choices, usage = fold(await collect(job))
    return ChatCompletion(
        id=response_id,
        created=int(time.time()),
        model=req.model,
        choices=[
            Choice(
                index=c.index,
                message=c.message(),
                logprobs=wire_logprobs(c.logprobs) if req.logprobs else None,
                finish_reason=c.finish_reason or "stop",
            )
            for c in choices
        ],
        usage=wire_usage(usage),
    )


def _chunk(delta: TextDelta) -> ChunkChoice:
    calls = None
    if delta.tool_calls:
        calls = [
            ToolCallChunk(
                index=t.index,
                id=t.id,
                type="function" if t.id else None,
                function=FunctionCallDelta(name=t.name, arguments=t.arguments),
            )
            for t in delta.tool_calls
        ]
    return ChunkChoice(
        index=delta.index,
        delta=ChunkDelta(content=delta.text or None, tool_calls=calls),
        logprobs=wire_logprobs(delta.logprobs),
        finish_reason=delta.finish_reason,
    )


async def stream(
    job: Job, req: ChatCompletionRequest, response_id: str, first: object
) -> AsyncIterator[bytes]:
    """SSE events for a job whose first item has already arrived (errors before it are HTTP
    errors; after it, error events)."""
    created = int(time.time())
    include_usage = bool(req.stream_options and req.stream_options.include_usage)

    def chunk(choices: list[ChunkChoice], usage: WireUsage | None = None) -> bytes:
        return sse.event(
            ChatCompletionChunk(
                id=response_id, created=created, model=req.model, choices=choices, usage=usage
            )
        )

    async def events() -> AsyncIterator[bytes]:
        started: set[int] = set()
        item: object = first
        while True:
            if isinstance(item, TextDelta):
                if item.index not in started:
                    started.add(item.index)
                    yield chunk(
                        [
                            ChunkChoice(
                                index=item.index, delta=ChunkDelta(role="assistant", content="")
                            )
                        ]
                    )
                if item.text or item.tool_calls or item.finish_reason or item.logprobs:
                    yield chunk([_chunk(item)])
            elif isinstance(item, Usage) and include_usage:
                yield chunk([], wire_usage(item))
            try:
                item = await job.next()
            except StopAsyncIteration:
                return

    async for event in sse.with_error_event(events()):
        yield event
