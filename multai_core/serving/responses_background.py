"""``background: true``: the response is stored as queued and its job runs on without the
client, which polls GET /v1/responses/{id} (queued, in_progress, then completed, incomplete,
failed or cancelled) and may cancel it with POST /v1/responses/{id}/cancel. One that a
stopped server left unfinished runs again when the server starts (resume)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import msgspec
import structlog

from multai_core.engine.scheduler import Job
from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import InvalidRequest, MultaiError
from multai_core.protocol import responses as api
from multai_core.serving.response_store import ResponseStore, Unfinished
from multai_core.serving.responses import Prepared, new_response, start
from multai_core.serving.responses_input import item_dicts, parse_items, to_chat
from multai_core.serving.responses_output import OutputBuilder
from multai_core.serving.responses_stored import retrieve
from multai_core.serving.services import Services

log = structlog.get_logger(__name__)
CANCEL_WAIT_S = 10.0
MAX_RUNS = 2  # the first run and one after a restart: a response that takes the server
# down each time it runs must not do so at every start
RESTARTED = "The server restarted before this response finished"


class _Running:
    def __init__(self, job: Job, task: asyncio.Task[None]) -> None:
        self.job = job
        self.task = task


_running: dict[tuple[str, str], _Running] = {}


async def _run(store: ResponseStore, owner: str, job: Job, prepared: Prepared) -> None:
    builder = OutputBuilder(prepared.response)
    response = builder.response
    try:
        async for item in job:
            if response.status == "queued":
                response.status = "in_progress"
                await asyncio.to_thread(store.update, owner, response)
            builder.feed(item)
        if not job.cancel_event.is_set():
            builder.finish()
    except MultaiError as exc:
        builder.fail("server_error", exc.message)
    except Exception as exc:
        log.error("background_response_failed", error=type(exc).__name__)
        builder.fail("server_error", "The response failed; the server log has details.")
    finally:
        if response.status in ("queued", "in_progress"):  # cancelled, or the task was
            builder.cut("cancelled")
        await asyncio.to_thread(store.update, owner, response)
        _running.pop((owner, response.id), None)


async def begin(services: Services, prepared: Prepared, job: Job) -> api.Response:
    """Store the response as queued and let its job run on; the queued response answers."""
    caller = principal.current()
    store = services.response_store
    response = prepared.response
    await asyncio.to_thread(
        store.put,
        caller.id,
        response,
        item_dicts(prepared.items),
        item_dicts(prepared.history),
        (prepared.request, caller),
    )
    queued = msgspec.json.decode(msgspec.json.encode(response), type=api.Response)
    _run_on(store, caller.id, job, prepared)
    return queued


def _run_on(store: ResponseStore, owner: str, job: Job, prepared: Prepared) -> None:
    task = asyncio.create_task(_run(store, owner, job, prepared))
    _running[(owner, prepared.response.id)] = _Running(job, task)


async def resume(services: Services) -> None:
    """At start: each background response a stopped server left queued or in progress runs
    again from its stored input, for the caller that made it (its limits apply), or ends
    failed, saying why, when it cannot (its model is gone, it ran after a restart before)."""
    try:
        unfinished = await asyncio.to_thread(services.response_store.unfinished)
    except (sqlite3.Error, OSError) as exc:  # the server serves on; the store says why later
        log.error("background_resume_failed", error=type(exc).__name__)
        return
    for left in unfinished:
        # a task of its own: the caller set for it stays in that task's context
        await asyncio.create_task(_resume(services, left))


async def _resume(services: Services, left: Unfinished) -> None:
    store = services.response_store
    principal.set_current(left.caller)
    stored = left.stored.response
    if left.runs >= MAX_RUNS:
        await _fail(store, left, f"{RESTARTED}, and it had been run again once already.")
        return
    response = new_response(left.request, stored.id, "queued")
    response.created_at = stored.created_at
    try:
        history = parse_items(left.stored.history)
        items = parse_items(left.stored.input_items)
        prepared = Prepared(
            request=left.request,
            chat=to_chat(left.request, [*history, *items]),
            items=items,
            history=history,
            response=response,
        )
        await asyncio.to_thread(store.count_run, left.owner, stored.id)
        job = await start(services, prepared, stored.id.removeprefix("resp_"))
    except MultaiError as exc:
        await _fail(store, left, f"{RESTARTED}, and it could not run again: {exc.message}")
        return
    except Exception as exc:
        log.error("background_resume_failed", error=type(exc).__name__)
        await _fail(store, left, f"{RESTARTED}, and it could not run again.")
        return
    await asyncio.to_thread(store.update, left.owner, response)
    log.info("background_response_resumed", response_id=stored.id)
    _run_on(store, left.owner, job, prepared)


async def _fail(store: ResponseStore, left: Unfinished, message: str) -> None:
    builder = OutputBuilder(left.stored.response)
    builder.fail("server_error", message)
    await asyncio.to_thread(store.update, left.owner, builder.response)
    log.info("background_response_failed_on_restart", response_id=left.stored.response.id)


async def cancel(services: Services, response_id: str) -> api.Response:
    """Cancel a background response that is still queued or running; a finished one is
    answered as it is."""
    running = _running.get((principal.current().id, response_id))
    if running is not None:
        services.scheduler.cancel(running.job)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(running.task), CANCEL_WAIT_S)
    response = await retrieve(services, response_id)
    if not response.background:
        raise InvalidRequest("Only a background response can be cancelled.", param="response_id")
    return response
