"""Submitting a task and collecting what it produced; shared by every endpoint."""

from __future__ import annotations

import uuid
from typing import Any

from multai_core.protocol.common import effective_priority
from multai_core.scheduler import Job
from multai_core.serving.services import Services
from multai_core.types import Task, TaskKind


def submit(
    services: Services,
    *,
    request_id: str,
    kind: TaskKind,
    payload: Any,
    model: str,
    priority: int | None = None,
    service_tier: str | None = None,
    gpu_layers: int | None = None,
) -> Job:
    spec = services.registry.resolve(model, kind=kind)
    task = Task(id=request_id or uuid.uuid4().hex, kind=kind, model=spec.name, payload=payload)
    return services.scheduler.submit(
        task,
        spec,
        priority=effective_priority(priority, service_tier),
        gpu_layers=gpu_layers,
    )


async def collect(job: Job) -> list[Any]:
    return [item async for item in job]
