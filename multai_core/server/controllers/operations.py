"""What the server is doing: the queue, the resident models, Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from multai_core.engine.scheduler import Job
from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import MultaiError
from multai_core.protocol.operations import (
    QueueEntry,
    QueueList,
    ResidentModel,
    ResidentModelList,
)
from multai_core.serving.services import Services


def _entry(job: Job, position: int | None, now: float) -> QueueEntry:
    return QueueEntry(
        id=job.task.id,
        model=job.spec.name,
        kind=job.task.kind,
        priority=job.priority,
        status=job.state,
        position=position if job.state == "queued" else None,
        waited_s=round((job.started_at or now) - job.submitted_at, 3),
    )


def _visible(job: Job) -> bool:
    caller = principal.current()
    return caller.admin or job.owner == caller.id


class QueueController(Controller):
    path = "/v1"
    tags = ["operations"]

    @get("/queue", summary="Queued and running requests (the caller's own unless admin)")
    async def queue(self, state: State) -> QueueList:
        services: Services = state.services
        now = time.monotonic()
        jobs = [j for j in list(services.scheduler.jobs.values()) if _visible(j)]
        positions = services.scheduler.positions()
        entries = sorted(
            (
                _entry(j, None if j.queue_key is None else positions.get(j.queue_key), now)
                for j in jobs
            ),
            key=lambda e: (e.status != "running", e.position or 0),
        )
        return QueueList(data=entries)

    @get("/queue/{request_id:str}", summary="One queued or running request")
    async def queue_entry(self, request_id: FromPath[str], state: State) -> QueueEntry:
        services: Services = state.services
        caller = principal.current()
        job = services.scheduler.jobs.get((caller.id, request_id))
        if job is None and caller.admin:
            job = next(
                (j for (_, id_), j in list(services.scheduler.jobs.items()) if id_ == request_id),
                None,
            )
        if job is None:
            error = MultaiError(f"No queued or running request with id '{request_id}'.")
            error.status_code, error.type, error.code = 404, "invalid_request_error", "not_found"
            raise error
        return _entry(job, services.scheduler.position(job), time.monotonic())

    @get("/ps", summary="Resident models: where, how many bytes, idle for how long")
    async def ps(self, state: State) -> ResidentModelList:
        services: Services = state.services
        now = time.monotonic()
        data = [
            ResidentModel(
                id=name,
                backend=m.spec.backend,
                placement=m.placement.kind,
                device=m.placement.device,
                gpu_layers=m.placement.gpu_layers,
                vram_bytes=m.placement.vram_bytes,
                ram_bytes=m.placement.ram_bytes,
                in_use=m.in_use,
                idle_s=0.0 if m.in_use else round(now - m.last_used, 3),
                load_s=round(m.load_seconds, 3),
                keep_alive_s=m.spec.keep_alive,
                pinned=m.spec.pinned,
            )
            for name, m in list(services.memory.resident.items())
        ]
        return ResidentModelList(data=data)


class MetricsController(Controller):
    tags = ["operations"]
    public = True  # checks the key itself unless [server].metrics_public

    @get("/metrics", summary="Prometheus metrics", media_type=CONTENT_TYPE_LATEST)
    async def metrics(self, request: Request[Any, Any, Any], state: State) -> Response[bytes]:
        services: Services = state.services
        if not services.config.server.metrics_public:
            state.guard.authenticate(request.headers.get("authorization"))
        return Response(
            generate_latest(services.metrics.registry),
            media_type=CONTENT_TYPE_LATEST,
            headers={"content-type": CONTENT_TYPE_LATEST},
        )
