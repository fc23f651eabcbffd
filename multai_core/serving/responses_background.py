"""``background: true``: the response is stored as queued and its job runs on without the
client, which polls GET /v1/responses/{id} (queued, in_progress, then completed, incomplete,
failed or cancelled) and may cancel it with POST /v1/responses/{id}/cancel."""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import structlog

from multai_core.engine.scheduler import Job
from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import InvalidRequest, MultaiError
from multai_core.protocol import responses as api
from multai_core.serving.response_store import ResponseStore
from multai_core.serving.responses import Prepared
from multai_core.serving.responses_input import item_dicts
from multai_core.serving.responses_output import OutputBuilder
from multai_core.serving.responses_stored import retrieve
from multai_core.serving.services import Services

log = structlog.get_logger(__name__)
CANCEL_WAIT_S = 10.0


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
    owner = principal.current().id
    store = services.response_store
    response = prepared.response
    await asyncio.to_thread(
        store.put, owner, response, item_dicts(prepared.items), item_dicts(prepared.history)
    )
    queued = msgspec.json.decode(msgspec.json.encode(response), type=api.Response)
    task = asyncio.create_task(_run(store, owner, job, prepared))
    _running[(owner, response.id)] = _Running(job, task)
    return queued


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
