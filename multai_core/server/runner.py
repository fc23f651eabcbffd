"""Running the app under uvicorn, with MultAI's HTTP protocol (connection limits and timeouts,
see http_protocol) and shutdown: on SIGTERM/SIGINT answer the queued with 503 at once, let
running jobs finish (uvicorn waits for open connections), then stop.

Tests serve through `build_server` too (testing.server.threaded_server), so they run what
users run."""

from __future__ import annotations

import resource

import uvicorn
from litestar import Litestar

from multai_core.config import ServerConfig
from multai_core.engine.scheduler import Scheduler
from multai_core.server.http_protocol import ConnectionLimits, protocol_class

GRACE_S = 30
SPARE_FDS = 256  # model files, logs, sockets to a GPU driver: beyond the client connections


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, scheduler: Scheduler) -> None:
        super().__init__(config)
        self.scheduler = scheduler

    def begin_shutdown(self) -> None:
        """Answer the queued with 503 and stop the server; safe from any thread."""
        loop = getattr(self.scheduler, "_loop", None)
        if loop is not None and not self.should_exit:
            loop.call_soon_threadsafe(self.scheduler.begin_shutdown)
        self.should_exit = True

    def handle_exit(self, sig: int, frame: object) -> None:
        self.begin_shutdown()
        super().handle_exit(sig, frame)  # type: ignore[arg-type]


def build_server(
    app: Litestar, *, host: str, port: int, certfile: str = "", keyfile: str = ""
) -> GracefulServer:
    server: ServerConfig = app.state.services.config.server
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_class(ConnectionLimits.of(server)),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACE_S,
        ssl_certfile=certfile or None,
        ssl_keyfile=keyfile or None,
    )
    return GracefulServer(config, app.state.services.scheduler)


def run(app: Litestar, *, host: str, port: int, certfile: str = "", keyfile: str = "") -> None:
    _allow_open_files(app.state.services.config.server.max_connections + SPARE_FDS)
    build_server(app, host=host, port=port, certfile=certfile, keyfile=keyfile).run()


def _allow_open_files(wanted: int) -> None:
    """Raise the soft limit on open files so [server].max_connections is what caps
    connections, not a default soft limit of 1024 (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
