"""Turning a job into an HTTP answer: JSON when it is done, or SSE that starts once the first
item exists (so errors before it are plain HTTP errors). Either way a client that disconnects
cancels its job."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from litestar import Request
from litestar.response import Stream

from multai_core.engine.scheduler import Job, Scheduler

T = TypeVar("T")
SSE_HEADERS = {
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
    # Litestar lets the handler's JSON media type win over Stream(media_type=...)
    "content-type": "text/event-stream; charset=utf-8",
}


async def _watch_disconnect(
    request: Request[Any, Any, Any], scheduler: Scheduler, job: Job
) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            scheduler.cancel(job)
            return


async def until_done(
    request: Request[Any, Any, Any], scheduler: Scheduler, job: Job, result: Awaitable[T]
) -> T:
    watcher = asyncio.create_task(_watch_disconnect(request, scheduler, job))
    try:
        return await result
    except asyncio.CancelledError:
        scheduler.cancel(job)
        raise
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _first(job: Job) -> object:
    try:
        return await job.next()
    except StopAsyncIteration:
        return None


async def event_stream(
    scheduler: Scheduler,
    job: Job,
    events: Callable[[object], AsyncIterator[bytes]],
    *,
    request: Request[Any, Any, Any] | None = None,
) -> Stream:
    """With ``request``, a client that leaves while the job still waits in the queue or
    before its first item cancels the job (afterwards the stream's end does)."""
    try:
        if request is not None:
            first = await until_done(request, scheduler, job, _first(job))
        else:
            first = await _first(job)
    except BaseException:
        scheduler.cancel(job)
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in events(first):
                yield chunk
        finally:
            scheduler.cancel(job)

    return Stream(body(), media_type="text/event-stream", headers=SSE_HEADERS)
