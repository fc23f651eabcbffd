"""GET /v1/models and GET /v1/models/{model}."""

from __future__ import annotations

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromPath

from multai_core.protocol.models import Model, ModelList
from multai_core.serving.services import Services


def _model(services: Services, name: str) -> Model:
    spec = services.registry.resolve(name)
    return Model(id=name, created=int(services.started_at), owned_by=f"multai-{spec.backend}")


class ModelsController(Controller):
    path = "/v1/models"
    tags = ["models"]

    @get("/", summary="List models")
    async def list_models(self, state: State) -> ModelList:
        services: Services = state.services
        names = [
            n for spec in services.registry.models.values() for n in (spec.name, *spec.aliases)
        ]
        return ModelList(data=[_model(services, n) for n in names])

    @get("/{model:str}", summary="Retrieve a model")
    async def get_model(self, model: FromPath[str], state: State) -> Model:
        return _model(state.services, model)
