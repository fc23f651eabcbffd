"""What the server is doing: the queue, the resident models, Prometheus metrics. Under Ray
Serve, every engine replica's, gathered."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import MultaiError
from multai_core.protocol.operations import QueueEntry, QueueList, ResidentModelList
from multai_core.serving.metrics_merge import merged_registry
from multai_core.serving.operations import (
    OwnedEntry,
    queue_entries,
    queue_entry,
    resident_models,
)
from multai_core.serving.services import Services


def _visible(owner: str) -> bool:
    caller = principal.current()
    return caller.admin or owner == caller.id


async def _all_entries(services: Services) -> list[OwnedEntry]:
    if services.cluster is None:
        return queue_entries(services.scheduler)
    return [e for snapshot in await services.cluster.snapshots() for e in snapshot.queue]


class QueueController(Controller):
    path = "/v1"
    tags = ["operations"]

    @get("/queue", summary="Queued and running requests (the caller's own unless admin)")
    async def queue(self, state: State) -> QueueList:
        entries = await _all_entries(state.services)
        return QueueList(data=[e.entry for e in entries if _visible(e.owner)])

    @get("/queue/{request_id:str}", summary="One queued or running request")
    async def queue_entry(self, request_id: FromPath[str], state: State) -> QueueEntry:
        services: Services = state.services
        caller = principal.current()
        if services.cluster is None:
            job = services.scheduler.jobs.get((caller.id, request_id))
            if job is None and caller.admin:
                job = next(
                    (
                        j
                        for (_, id_), j in list(services.scheduler.jobs.items())
                        if id_ == request_id
                    ),
                    None,
                )
            if job is not None:
                return queue_entry(job, services.scheduler.position(job), time.monotonic())
        else:
            for owned in await _all_entries(services):
                if owned.entry.id == request_id and (owned.owner == caller.id or caller.admin):
                    return owned.entry
        error = MultaiError(f"No queued or running request with id '{request_id}'.")
        error.status_code, error.type, error.code = 404, "invalid_request_error", "not_found"
        raise error

    @get("/ps", summary="Resident models: where, how many bytes, idle for how long")
    async def ps(self, state: State) -> ResidentModelList:
        services: Services = state.services
        if services.cluster is None:
            return ResidentModelList(data=resident_models(services.memory))
        snapshots = await services.cluster.snapshots()
        return ResidentModelList(data=[m for s in snapshots for m in s.resident])


class MetricsController(Controller):
    tags = ["operations"]
    public = True  # checks the key itself unless [server].metrics_public

    @get("/metrics", summary="Prometheus metrics", media_type=CONTENT_TYPE_LATEST)
    async def metrics(self, request: Request[Any, Any, Any], state: State) -> Response[bytes]:
        services: Services = state.services
        if not services.config.server.metrics_public:
            state.guard.authenticate(request.headers.get("authorization"))
        registry = services.metrics.registry
        if services.cluster is not None:
            sources = [("ingress", generate_latest(registry))]
            sources += [(s.engine, s.metrics) for s in await services.cluster.snapshots()]
            registry = merged_registry(sources)
        return Response(
            generate_latest(registry),
            media_type=CONTENT_TYPE_LATEST,
            headers={"content-type": CONTENT_TYPE_LATEST},
        )
