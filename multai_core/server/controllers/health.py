"""GET /health (the process answers) and GET /ready (plugins registered a model)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.datastructures import State

from multai_core.serving.services import Services


class HealthController(Controller):
    tags = ["health"]
    public = True

    @get("/health", summary="Liveness")
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", summary="Readiness")
    async def ready(self, state: State) -> Response[dict[str, object]]:
        """``models``: the models served; ``model_ids``: their names and aliases, the ids that
        GET /v1/models lists for a key that may use every model."""
        services: Services = state.services
        models = services.registry.models.values()
        ready = bool(models)
        return Response(
            {
                "status": "ready" if ready else "no_models",
                "models": len(models),
                "model_ids": sum(1 + len(spec.aliases) for spec in models),
            },
            status_code=200 if ready else 503,
        )
