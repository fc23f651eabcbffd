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
        services: Services = state.services
        ready = bool(services.registry.models)
        return Response(
            {"status": "ready" if ready else "no_models", "models": len(services.registry.models)},
            status_code=200 if ready else 503,
        )
