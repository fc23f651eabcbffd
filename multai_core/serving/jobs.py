"""Submitting a task and collecting what it produced; shared by every endpoint."""

from __future__ import annotations

import uuid
from typing import Any

from multai_core.engine.scheduler import Job
from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import InvalidRequest
from multai_core.plugin_api.task_text import ChatTask
from multai_core.plugin_api.tasks import Task, TaskKind, TaskPayload
from multai_core.plugin_api.types import ModelSpec
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
    if isinstance(payload, ChatTask) and payload.continue_final_message:
        check_continues(services, spec)
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


def check_continues(services: Services, spec: ModelSpec) -> None:
    if not services.registry.backends[spec.backend].continues_final_message:
        raise InvalidRequest(
            f"The model '{spec.name}' cannot continue a final assistant message (its backend "
            f"'{spec.backend}' does not support prefilled answers); end the messages with a "
            "user turn.",
            param="messages",
            code="unsupported_parameter",
        )


async def collect(job: Job) -> list[Any]:
    return [item async for item in job]
