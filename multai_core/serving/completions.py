"""POST /v1/completions (legacy): request -> job -> Completion or a stream of them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from multai_core.engine.scheduler import Job
from multai_core.plugin_api.results import TextDelta, TokenLogprob, Usage
from multai_core.plugin_api.task_text import CompletionTask
from multai_core.protocol.completions import (
    Completion,
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
)
from multai_core.serving import sse
from multai_core.serving.jobs import collect, submit
from multai_core.serving.sampling import sampling_params
from multai_core.serving.services import Services
from multai_core.serving.text import fold, wire_usage

DEFAULT_MAX_TOKENS = 16
"""OpenAI's default for /v1/completions."""


def completion_task(req: CompletionRequest) -> CompletionTask:
    return CompletionTask(
        prompts=req.prompts(),
        suffix=req.suffix,
        sampling=sampling_params(req),
        max_tokens=DEFAULT_MAX_TOKENS if req.max_tokens is None else req.max_tokens,
        stop=req.stop_list(),
        n=req.n or 1,
        best_of=req.best_of,
        echo=bool(req.echo),
        logprobs=req.logprobs,
        n_threads=req.n_threads,
    )


def start(services: Services, req: CompletionRequest, request_id: str) -> Job:
    return submit(
        services,
        request_id=request_id,
        kind="completion",
        payload=completion_task(req),
        model=req.model,
        priority=req.priority,
        service_tier=req.service_tier,
        gpu_layers=req.n_gpu_layers,
    )


def _logprobs(logprobs: list[TokenLogprob] | None, offset: int = 0) -> CompletionLogprobs | None:
    if logprobs is None:
        return None
    offsets, position = [], offset
    for lp in logprobs:
        offsets.append(position)
        position += len(lp.token)
    return CompletionLogprobs(
        text_offset=offsets,
        token_logprobs=[lp.logprob for lp in logprobs],
        tokens=[lp.token for lp in logprobs],
        top_logprobs=[{t.token: t.logprob for t in lp.top_logprobs} for lp in logprobs],
    )


async def complete(job: Job, req: CompletionRequest, response_id: str) -> Completion:
    choices, usage = fold(await collect(job))
    return Completion(
        id=response_id,
        created=int(time.time()),
        model=req.model,
        choices=[
            CompletionChoice(
                index=c.index,
                text="".join(c.text),
                logprobs=_logprobs(c.logprobs) if req.logprobs is not None else None,
                finish_reason=c.finish_reason or "stop",
            )
            for c in choices
        ],
        usage=wire_usage(usage),
    )


async def stream(
    job: Job, req: CompletionRequest, response_id: str, first: object
) -> AsyncIterator[bytes]:
    created = int(time.time())
    include_usage = bool(req.stream_options and req.stream_options.include_usage)

    async def events() -> AsyncIterator[bytes]:
        item: object = first
        offsets: dict[int, int] = {}
        while True:
            if isinstance(item, TextDelta):
                offset = offsets.get(item.index, 0)
                offsets[item.index] = offset + len(item.text)
                choice = CompletionChoice(
                    index=item.index,
                    text=item.text,
                    logprobs=_logprobs(item.logprobs, offset),
                    finish_reason=item.finish_reason,
                )
                yield sse.event(
                    Completion(id=response_id, created=created, model=req.model, choices=[choice])
                )
            elif isinstance(item, Usage) and include_usage:
                yield sse.event(
                    Completion(
                        id=response_id,
                        created=created,
                        model=req.model,
                        choices=[],
                        usage=wire_usage(item),
                    )
                )
            try:
                item = await job.next()
            except StopAsyncIteration:
                return

    async for event in sse.with_error_event(events()):
        yield event
