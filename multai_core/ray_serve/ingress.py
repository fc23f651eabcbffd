"""The HTTP ingress: the same Litestar app as ``multai serve`` (controllers, auth, errors,
streaming), built on the replica Serve starts it in, with a scheduler that relays each job to
the engine replicas."""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from multai_core.config import Config, models_dir
from multai_core.engine.memory import MemoryManager
from multai_core.engine.metrics import Metrics
from multai_core.engine.scheduler import Scheduler
from multai_core.ray_serve.board import BoardView
from multai_core.ray_serve.relay import RelayScheduler
from multai_core.ray_serve.stores import NodeStores
from multai_core.server.logging import configure_logging


@serve.ingress()
class Ingress:
    def __init__(self, engines: dict[str, DeploymentHandle[Any]], config: Config) -> None:
        self.engines = engines  # by replica group (DEFAULT_GROUP: the models no group names)
        self.config = config

    def __serve_build_asgi_app__(self) -> Any:
        from multai_core.server.app import create_app

        configure_logging(self.config.server.log_level, self.config.server.log_format)

        def relay(memory: MemoryManager, config: Config, metrics: Metrics) -> Scheduler:
            return RelayScheduler(memory, config, metrics, self.engines)

        app = create_app(self.config, engine=relay)
        app.state.services.cluster = BoardView()
        app.state.services.other_stores = NodeStores(models_dir(self.config.server))
        return app
