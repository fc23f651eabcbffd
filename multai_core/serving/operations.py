"""What the server is doing, as GET /v1/queue and /v1/ps show it: built from one engine's
scheduler and memory manager (the server's own, or each replica's under Ray Serve)."""

from __future__ import annotations

import time
from typing import Protocol

import msgspec

from multai_core.engine.memory import MemoryManager
from multai_core.engine.scheduler import Job, Scheduler
from multai_core.protocol.operations import QueueEntry, ResidentModel


class OwnedEntry(msgspec.Struct, frozen=True):
    """A queue entry with the key id that owns it (who may see it)."""

    owner: str
    entry: QueueEntry


class EngineSnapshot(msgspec.Struct, frozen=True):
    """One engine at one moment: its resident models, its queue, its Prometheus metrics."""

    engine: str
    resident: list[ResidentModel]
    queue: list[OwnedEntry]
    metrics: bytes
    """The text exposition of the engine's registry."""


class ClusterView(Protocol):
    """The engines of a server that runs them elsewhere (Ray Serve replicas)."""

    async def snapshots(self) -> list[EngineSnapshot]: ...

    async def unload(self, model: str) -> None:
        """Each engine unloads ``model`` (deleted) as soon as no request uses it."""
        ...


def queue_entry(job: Job, position: int | None, now: float) -> QueueEntry:
    return QueueEntry(
        id=job.task.id,
        model=job.spec.name,
        kind=job.task.kind,
        priority=job.priority,
        status=job.state,
        position=position if job.state == "queued" else None,
        waited_s=round((job.started_at or now) - job.submitted_at, 3),
    )


def queue_entries(scheduler: Scheduler) -> list[OwnedEntry]:
    """Every queued and running job, running first, then by position."""
    now = time.monotonic()
    positions = scheduler.positions()
    entries = [
        OwnedEntry(
            job.owner,
            queue_entry(job, None if job.queue_key is None else positions.get(job.queue_key), now),
        )
        for job in list(scheduler.jobs.values())
    ]
    return sorted(entries, key=lambda e: (e.entry.status != "running", e.entry.position or 0))


def resident_models(memory: MemoryManager) -> list[ResidentModel]:
    now = time.monotonic()
    return [
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
        for name, m in list(memory.resident.items())
    ]
