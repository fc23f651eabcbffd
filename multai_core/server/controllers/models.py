"""GET /v1/models and GET /v1/models/{model}: the models the caller's key may use, only."""

from __future__ import annotations

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromPath

from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import ModelNotFound
from multai_core.plugin_api.principal import Principal
from multai_core.plugin_api.types import ModelSpec
from multai_core.protocol.models import Model, ModelList
from multai_core.serving.services import Services


def _allowed(caller: Principal, spec: ModelSpec) -> bool:
    return caller.may_use(model=spec.name, aliases=spec.aliases)


def _model(services: Services, name: str) -> Model:
    spec = services.registry.resolve(name)
    return Model(id=name, created=int(services.started_at), owned_by=f"multai-{spec.backend}")


class ModelsController(Controller):
    path = "/v1/models"
    tags = ["models"]

    @get("/", summary="List models")
    async def list_models(self, state: State) -> ModelList:
        services: Services = state.services
        caller = principal.current()
        names = [
            name
            for spec in services.registry.models.values()
            if _allowed(caller, spec)
            for name in (spec.name, *spec.aliases)
        ]
        return ModelList(data=[_model(services, n) for n in names])

    @get("/{model:str}", summary="Retrieve a model")
    async def get_model(self, model: FromPath[str], state: State) -> Model:
        services: Services = state.services
        found = _model(services, model)
        if not _allowed(principal.current(), services.registry.resolve(model)):
            raise ModelNotFound.named(model)
        return found
