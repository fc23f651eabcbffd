"""An engine replica: one whole MultAI engine (scheduler, memory manager, installed plugins) on
the devices Ray gave it, serving the jobs the ingress relays."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from prometheus_client import generate_latest
from ray import serve
from ray.exceptions import RayError

from multai_core.config import Config
from multai_core.plugin_api import offline
from multai_core.plugin_api.errors import MultaiError
from multai_core.ray_serve.board import POST_EVERY_S, board, encode
from multai_core.ray_serve.work import FREE_BYTES, RESIDENT, Holding, RemoteError, RemoteWork
from multai_core.server.app import KEEP_ALIVE_SWEEP_S, build_services
from multai_core.server.logging import configure_logging
from multai_core.serving.operations import EngineSnapshot, queue_entries, resident_models

log = structlog.get_logger(__name__)


class EngineReplica:
    def __init__(self, config: Config) -> None:
        configure_logging(config.server.log_level, config.server.log_format)
        offline.enforce()  # before any plugin imports a hub library
        self.services = build_services(config)
        self._started: asyncio.Task[None] | None = None
        context = serve.get_replica_context()
        self._name = f"{context.deployment}/{context.replica_tag}"  # the group, then the replica
        self._id = context.replica_id.to_full_id_str()

    async def _start(self) -> None:
        """The engine's loop, on the replica's event loop (the first request or health check
        starts it)."""
        if self._started is None:
            self._started = asyncio.create_task(self._run_engine())
            await asyncio.sleep(0)  # the scheduler's start runs before the first submit

    async def _run_engine(self) -> None:
        services = self.services
        await services.scheduler.start()
        sweep_at = time.monotonic() + KEEP_ALIVE_SWEEP_S
        notices = board()
        seen: int | None = None  # deletions the board has told this replica of
        deleted: set[str] = set()  # models deleted at the ingress, to unload once idle
        while True:
            try:
                seen, names = await notices.post.remote(self._name, encode(self.snapshot()), seen)
                deleted.update(names)
            except RayError as exc:  # out of reach for a moment: ask for it anew
                log.info("board_unavailable", error=type(exc).__name__)
                notices = board()
            if deleted:
                deleted = await asyncio.to_thread(self._unload, deleted)
            await asyncio.sleep(POST_EVERY_S)
            if time.monotonic() >= sweep_at:
                sweep_at = time.monotonic() + KEEP_ALIVE_SWEEP_S
                await asyncio.to_thread(services.memory.unload_idle)

    def _unload(self, deleted: set[str]) -> set[str]:
        """Unloads the deleted models no request uses; the others, to try again."""
        memory = self.services.memory
        return {name for name in deleted if not memory.unload_when_idle(name, reason="deleted")}

    def snapshot(self) -> EngineSnapshot:
        services = self.services
        return EngineSnapshot(
            engine=self._name,
            resident=resident_models(services.memory),
            queue=queue_entries(services.scheduler),
            metrics=generate_latest(services.metrics.registry),
        )

    async def run(self, work: RemoteWork) -> AsyncIterator[Any]:
        """What the plugin yields for ``work``; a MultaiError as a :class:`RemoteError` item.
        Cancelled (the client left, or the ingress gave up), it cancels the job."""
        await self._start()
        scheduler = self.services.scheduler
        try:
            job = scheduler.submit(
                work.task,
                work.spec,
                priority=work.priority,
                gpu_layers=work.gpu_layers,
                owner=work.owner,
            )
        except MultaiError as exc:
            yield RemoteError(exc, self._id)
            return
        try:
            async for item in job:
                yield item
        except MultaiError as exc:
            yield RemoteError(exc, self._id)
        finally:
            scheduler.cancel(job)  # nothing if it ended; otherwise stops it at the next token
        yield Holding(self._id, tuple(sorted(self.services.memory.resident)))

    def record_routing_stats(self) -> dict[str, Any]:
        """What the router reads to choose a replica (polled by Serve's controller)."""
        memory = self.services.memory
        devices = memory.devices()
        free = devices.ram_free_bytes + sum(gpu.free_bytes for gpu in devices.gpus)
        return {
            RESIDENT: sorted(memory.resident),
            FREE_BYTES: free,
        }

    async def check_health(self) -> None:
        await self._start()  # so a replica posts to the board before its first request
        if self._started is not None and self._started.done():
            with contextlib.suppress(asyncio.CancelledError):
                self._started.result()  # raises what stopped the engine: Serve replaces it
