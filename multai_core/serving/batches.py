"""/v1/batches: create, retrieve, list and cancel batches, per owner (another key gets 404;
an admin key sees every key's batches). The runner does the work; this module only records
what the caller asked for and wakes it."""

from __future__ import annotations

import asyncio
import secrets
import time

from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import InvalidRequest, MultaiError
from multai_core.protocol.batches import (
    ENDED,
    Batch,
    BatchCreateRequest,
    BatchList,
    RequestCounts,
)
from multai_core.serving.batch_input import BATCH_URLS
from multai_core.serving.batch_runner import BatchRunner
from multai_core.serving.batch_store import StoredBatch
from multai_core.serving.services import Services

COMPLETION_WINDOW = "24h"
WINDOW_S = 24 * 3600


class BatchNotFound(MultaiError):
    """A batch that does not exist or is another key's: the same answer for both."""

    status_code = 404
    type = "invalid_request_error"
    code = "not_found"

    @classmethod
    def named(cls, batch_id: str) -> BatchNotFound:
        return cls(f"No batch found with id '{batch_id}'.", param="batch_id")


class TooManyBatches(MultaiError):
    status_code = 429
    type = "rate_limit_error"
    code = "batch_limit_reached"


class NotCancellable(MultaiError):
    status_code = 409
    type = "invalid_request_error"
    code = "batch_not_cancellable"


async def create(services: Services, runner: BatchRunner, req: BatchCreateRequest) -> Batch:
    caller = principal.current()
    if req.completion_window != COMPLETION_WINDOW:
        raise InvalidRequest(
            f"completion_window must be '{COMPLETION_WINDOW}', not '{req.completion_window}'.",
            param="completion_window",
        )
    if req.endpoint not in BATCH_URLS:
        raise InvalidRequest(
            f"endpoint must be one of {', '.join(BATCH_URLS)}, not '{req.endpoint}'.",
            param="endpoint",
        )
    file = await asyncio.to_thread(services.file_store.get, caller.id, req.input_file_id)
    if file.purpose != "batch":
        raise InvalidRequest(
            f"The file {file.id} has purpose '{file.purpose}'; a batch's input file must be "
            "uploaded with purpose 'batch'.",
            param="input_file_id",
        )
    store = services.batch_store
    limit = services.config.server.max_open_batches_per_key
    if await asyncio.to_thread(store.open_count, caller.id) >= limit:
        raise TooManyBatches(
            f"This API key has {limit} batches that have not ended, the most it may have "
            "([server].max_open_batches_per_key); wait for one to end or cancel one.",
            retry_after=60,
        )
    now = int(time.time())
    batch = Batch(
        id=f"batch_{secrets.token_hex(12)}",
        object="batch",
        endpoint=req.endpoint,
        input_file_id=file.id,
        completion_window=req.completion_window,
        status="validating",
        created_at=now,
        expires_at=now + WINDOW_S,
        metadata=req.metadata,
        request_counts=RequestCounts(),
    )
    await asyncio.to_thread(store.create, caller.id, caller, batch)
    runner.wake()
    return batch


async def _visible(services: Services, batch_id: str) -> StoredBatch:
    caller = principal.current()
    stored = await asyncio.to_thread(services.batch_store.get, batch_id)
    if stored is None or (stored.owner != caller.id and not caller.admin):
        raise BatchNotFound.named(batch_id)
    return stored


async def retrieve(services: Services, batch_id: str) -> Batch:
    return (await _visible(services, batch_id)).batch


async def list_batches(services: Services, *, after: str | None, limit: int) -> BatchList:
    caller = principal.current()
    owner = None if caller.admin else caller.id
    batches, has_more = await asyncio.to_thread(
        services.batch_store.page, owner, after=after, limit=limit
    )
    return BatchList(
        data=batches,
        first_id=batches[0].id if batches else None,
        last_id=batches[-1].id if batches else None,
        has_more=has_more,
    )


async def cancel(services: Services, runner: BatchRunner, batch_id: str) -> Batch:
    """A batch validating or in progress becomes cancelling; the runner stops its lines and
    ends it as cancelled, with the results finished so far in its output file."""
    stored = await _visible(services, batch_id)
    batch = stored.batch
    if batch.status in ("cancelling", "cancelled"):
        return batch
    if batch.status in ENDED or batch.status == "finalizing":
        raise NotCancellable(
            f"The batch {batch.id} is {batch.status}; only a batch that is validating or in "
            "progress can be cancelled."
        )
    was = batch.status
    batch.status, batch.cancelling_at = "cancelling", int(time.time())
    if not await asyncio.to_thread(services.batch_store.save, batch, was=was):
        return await retrieve(services, batch_id)  # it moved on meanwhile
    runner.wake()
    return batch
