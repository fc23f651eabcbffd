"""Running the app under uvicorn, with MultAI's HTTP protocol (connection limits and timeouts,
see http_protocol) and shutdown: on SIGTERM/SIGINT answer the queued with 503 at once, let
running requests finish for [server].shutdown_drain_s, then end those still running with the
ShuttingDown error (a stream's last error event), close the connections and exit 0.

Tests serve through `build_server` too (testing.server.threaded_server), so they run what
users run."""

from __future__ import annotations

import math
import resource

import uvicorn
from litestar import Litestar

from multai_core.config import ServerConfig
from multai_core.engine.scheduler import Scheduler
from multai_core.server.http_protocol import ConnectionLimits, protocol_class

# after the drain, streams end within moments; uvicorn cancels what is left after this
# (a handler not waiting on the scheduler)
CLOSE_MARGIN_S = 5.0
SPARE_FDS = 256  # model files, logs, sockets to a GPU driver: beyond the client connections


class GracefulServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, scheduler: Scheduler, drain_s: float | None = None
    ) -> None:
        """``drain_s``: how long running requests may go on after a signal; None: until they
        end or uvicorn's graceful timeout cuts them."""
        super().__init__(config)
        self.scheduler = scheduler
        self.drain_s = drain_s

    def begin_shutdown(self) -> None:
        """Start the drain and stop the server; safe from any thread."""
        loop = getattr(self.scheduler, "_loop", None)
        if loop is not None and not self.should_exit:
            loop.call_soon_threadsafe(self.scheduler.begin_shutdown, self.drain_s)
        self.should_exit = True

    def handle_exit(self, sig: int, frame: object) -> None:
        self.begin_shutdown()
        super().handle_exit(sig, frame)  # type: ignore[arg-type]
        # uvicorn re-raises a caught signal once it has stopped, which would end the process
        # by SIGTERM's default action (exit status -15); a graceful stop exits 0
        self._captured_signals.clear()


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
        timeout_graceful_shutdown=math.ceil(server.shutdown_drain_s + CLOSE_MARGIN_S),
        ssl_certfile=certfile or None,
        ssl_keyfile=keyfile or None,
    )
    return GracefulServer(config, app.state.services.scheduler, server.shutdown_drain_s)


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
