"""The app factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pluggy
import structlog
from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State

from multai_core.config import Config
from multai_core.engine.memory import MemoryManager
from multai_core.engine.metrics import Metrics
from multai_core.engine.packs import Packs
from multai_core.engine.scheduler import Scheduler
from multai_core.plugin_api import offline
from multai_core.plugin_api.types import DeviceSnapshot
from multai_core.plugins import make_plugin_manager
from multai_core.registry import Registry
from multai_core.server import controllers
from multai_core.server.anthropic_errors import handle_by_path
from multai_core.server.auth import AuthGuard, require_caller
from multai_core.server.openapi import document_errors, document_streams, openapi_config
from multai_core.server.request_id import RequestIdMiddleware
from multai_core.server.strict_body import check_json_body
from multai_core.serving import responses_background
from multai_core.serving.batch_runner import BatchRunner
from multai_core.serving.image_store import ImageStore
from multai_core.serving.services import Services

KEEP_ALIVE_SWEEP_S = 5.0


EngineFactory = Callable[[MemoryManager, Config, Metrics], Scheduler]
"""Makes the scheduler the controllers hand their jobs to: by default the local one; under Ray
Serve, one that relays each job to an engine replica."""


def local_engine(memory: MemoryManager, config: Config, metrics: Metrics) -> Scheduler:
    return Scheduler(memory, config.scheduler, metrics)


def build_services(
    config: Config,
    pm: pluggy.PluginManager | None = None,
    probe: Callable[[], DeviceSnapshot] | None = None,
    engine: EngineFactory = local_engine,
) -> Services:
    pm = pm or make_plugin_manager()
    packs = Packs(pm)
    registry = Registry.for_config(packs.backends, config)
    for line in registry.skipped:  # the server starts without them
        structlog.get_logger(__name__).warning(line)
    metrics = Metrics()
    memory = MemoryManager(packs, config.memory, probe, metrics)
    return Services(
        config=config,
        pm=pm,
        registry=registry,
        memory=memory,
        scheduler=engine(memory, config, metrics),
        metrics=metrics,
        image_store=ImageStore(
            max_bytes=config.server.image_store_bytes, ttl_s=config.server.image_url_ttl_s
        ),
    )


def create_app(
    config: Config | None = None,
    pm: pluggy.PluginManager | None = None,
    probe: Callable[[], DeviceSnapshot] | None = None,
    engine: EngineFactory = local_engine,
) -> Litestar:
    config = config or Config()
    offline.enforce()  # before any plugin imports a hub library
    services = build_services(config, pm, probe, engine)
    guard = AuthGuard(services.pm, config.server.api_keys)
    found = controllers.discover()
    # capability URLs, health and metrics (which checks keys itself) sit outside the guard
    public = [c for c in found if getattr(c, "public", False)]
    guarded = [c for c in found if not getattr(c, "public", False)]
    batch_runner = BatchRunner(services)

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await services.scheduler.start()
        await responses_background.resume(services)
        await batch_runner.start()  # resumes the batches a stopped server left
        sweeper = asyncio.create_task(_sweep_idle(services))
        try:
            yield
        finally:
            sweeper.cancel()
            await batch_runner.stop()
            await services.scheduler.stop()

    app = Litestar(
        route_handlers=[
            *public,
            Router(path="/", route_handlers=guarded, guards=[require_caller]),
        ],
        exception_handlers={Exception: handle_by_path},
        before_request=check_json_body,
        middleware=[RequestIdMiddleware],
        lifespan=[lifespan],
        state=State({"services": services, "guard": guard, "batch_runner": batch_runner}),
        request_max_body_size=config.server.max_body_bytes,
        cors_config=(
            CORSConfig(allow_origins=config.server.cors_allow_origins)
            if config.server.cors_allow_origins
            else None
        ),
        openapi_config=openapi_config(config.server),
        debug=False,
        logging_config=None,  # configure_logging owns the process's log: one format
    )
    document_errors(app)
    document_streams(app)
    return app


async def _sweep_idle(services: Services) -> None:
    while True:
        await asyncio.sleep(KEEP_ALIVE_SWEEP_S)
        await asyncio.to_thread(services.memory.unload_idle)
