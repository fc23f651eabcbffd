"""Running the app under uvicorn with MultAI's shutdown: on SIGTERM/SIGINT answer the queued
with 503 at once, let running jobs finish (uvicorn waits for open connections), then stop."""

from __future__ import annotations

import uvicorn
from litestar import Litestar

from multai_core.engine.scheduler import Scheduler


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, scheduler: Scheduler) -> None:
        super().__init__(config)
        self.scheduler = scheduler

    def handle_exit(self, sig: int, frame: object) -> None:
        loop = getattr(self.scheduler, "_loop", None)
        if loop is not None and not self.should_exit:
            loop.call_soon_threadsafe(self.scheduler.begin_shutdown)
        super().handle_exit(sig, frame)  # type: ignore[arg-type]


def run(
    app: Litestar,
    *,
    host: str,
    port: int,
    grace_s: float = 30.0,
    certfile: str = "",
    keyfile: str = "",
) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(grace_s),
        ssl_certfile=certfile or None,
        ssl_keyfile=keyfile or None,
    )
    GracefulServer(config, app.state.services.scheduler).run()
