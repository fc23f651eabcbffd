"""The HTTP ingress: the same Litestar app as ``multai serve`` (controllers, auth, errors,
streaming), built on the replica Serve starts it in, with a scheduler that relays each job to
the engine replicas."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from ray import serve
from ray.serve.handle import DeploymentHandle

from multai_core.config import Config, models_dir
from multai_core.engine.memory import MemoryManager
from multai_core.engine.metrics import Metrics
from multai_core.engine.scheduler import Scheduler
from multai_core.plugin_api.types import ModelSpec
from multai_core.ray_serve.board import BoardView
from multai_core.ray_serve.relay import RelayScheduler
from multai_core.ray_serve.stores import NodeStores
from multai_core.server.logging import configure_logging

log = structlog.get_logger(__name__)


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
        served = app.state.services.registry.models.values()
        for group, model in unserved_group_models(self.config, served):
            # a model pulled later is served by its group then; until then, perhaps a typo
            log.warning("ray_group_model_not_served", group=group, model=model)
        app.state.services.cluster = BoardView()
        app.state.services.other_stores = NodeStores(models_dir(self.config.server))
        return app


def unserved_group_models(config: Config, served: Iterable[ModelSpec]) -> list[tuple[str, str]]:
    """The (group, model) pairs of ``[[ray.groups]]`` whose model is none of the ``served``
    ones (yet), by name or alias."""
    names = {name for spec in served for name in (spec.name, *spec.aliases)}
    return [
        (group.name, model)
        for group in config.ray.groups
        for model in group.models
        if model not in names
    ]
