"""Which models exist: configured specs plus the installed plugins' defaults."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
import structlog

from multai_core.config import ConfigError
from multai_core.plugin_api.errors import InvalidRequest, ModelNotFound
from multai_core.plugin_api.types import Backend, ModelSpec

log = structlog.get_logger(__name__)


class Registry:
    def __init__(self, backends: Iterable[Backend], configured: Iterable[ModelSpec]) -> None:
        self.backends: dict[str, Backend] = {}
        for backend in backends:
            self.backends[backend.name] = backend
        self.models: dict[str, ModelSpec] = {}
        self._names: dict[str, str] = {}
        configured = list(configured)
        specs = configured or [m for b in self.backends.values() for m in b.default_models]
        for spec in specs:
            if spec.backend not in self.backends:
                log.warning("model_backend_missing", model=spec.name, backend=spec.backend)
                continue
            self._add(spec)

    def _add(self, spec: ModelSpec) -> None:
        backend = self.backends[spec.backend]
        if backend.options_type is not None:
            try:
                msgspec.convert(spec.options, backend.options_type, strict=False)
            except msgspec.ValidationError as exc:
                raise ConfigError(f"model '{spec.name}': invalid options: {exc}") from exc
        if spec.max_concurrency is None:
            concurrency = backend.concurrency(spec) if backend.concurrency is not None else 1
            spec = msgspec.structs.replace(spec, max_concurrency=max(1, concurrency))
        elif spec.max_concurrency < 1:
            raise ConfigError(f"model '{spec.name}': max_concurrency must be at least 1")
        self.models[spec.name] = spec
        for name in (spec.name, *spec.aliases):
            self._names.setdefault(name, spec.name)

    def resolve(self, name: str, *, kind: str | None = None) -> ModelSpec:
        """The spec for a model name or alias; names only, never filesystem paths."""
        canonical = self._names.get(name)
        if canonical is None:
            raise ModelNotFound(
                f"The model '{name}' does not exist. GET /v1/models lists the models this "
                "server has.",
                param="model",
            )
        spec = self.models[canonical]
        if kind is not None and kind not in self.backends[spec.backend].tasks:
            served = ", ".join(sorted(self.backends[spec.backend].tasks))
            raise InvalidRequest(
                f"The model '{name}' does not support {kind}; it serves: {served}.",
                param="model",
                code="model_not_supported",
            )
        return spec

    def tasks_of(self, spec: ModelSpec) -> frozenset[str]:
        return self.backends[spec.backend].tasks
