"""Submitting a task and collecting what it produced; shared by every endpoint."""

from __future__ import annotations

import uuid
from typing import Any

from multai_core.engine.scheduler import Job
from multai_core.plugin_api import principal
from multai_core.plugin_api.tasks import Task, TaskKind, TaskPayload
from multai_core.protocol.common import effective_priority
from multai_core.serving.services import Services


def submit(
    services: Services,
    *,
    request_id: str,
    kind: TaskKind,
    payload: TaskPayload,
    model: str,
    priority: int | None = None,
    service_tier: str | None = None,
    gpu_layers: int | None = None,
) -> Job:
    spec = services.registry.resolve(model, kind=kind)
    caller = principal.current()
    level = effective_priority(priority, service_tier)
    caller.check(model=spec.name, aliases=spec.aliases, priority=level)
    task = Task(
        id=request_id or uuid.uuid4().hex,
        kind=kind,
        model=spec.name,
        payload=payload,
        priority=level,
    )
    return services.scheduler.submit(
        task, spec, priority=level, gpu_layers=gpu_layers, owner=caller.id
    )


async def collect(job: Job) -> list[Any]:
    return [item async for item in job]
