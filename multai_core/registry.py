"""Which models exist: configured specs plus the installed plugins' defaults."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from multai_core.config import ConfigError
from multai_core.config_check import model_problems, spec_problems
from multai_core.plugin_api.errors import InvalidRequest, ModelNotFound
from multai_core.plugin_api.types import Backend, ModelSpec


class Registry:
    def __init__(self, backends: Iterable[Backend], configured: Iterable[ModelSpec]) -> None:
        self.backends: dict[str, Backend] = {}
        for backend in backends:
            self.backends[backend.name] = backend
        self.models: dict[str, ModelSpec] = {}
        self._names: dict[str, str] = {}
        configured = list(configured)
        if configured:  # every mistake at once: the server does not start with any
            problems = model_problems(self.backends, configured)
            if problems:
                raise ConfigError(problems)
            specs = configured
        else:
            specs = [m for b in self.backends.values() for m in b.default_models]
            for spec in specs:  # a pack's defaults: a mistake there is the pack's
                problems = spec_problems(self.backends[spec.backend], spec, check=False)
                if problems:
                    raise ConfigError([f"model '{spec.name}': {p}" for p in problems])
        for spec in specs:
            self._add(spec)

    def _add(self, spec: ModelSpec) -> None:
        backend = self.backends[spec.backend]
        if spec.max_concurrency is None:
            concurrency = backend.concurrency(spec) if backend.concurrency is not None else 1
            spec = msgspec.structs.replace(spec, max_concurrency=max(1, concurrency))
        self.models[spec.name] = spec
        for name in (spec.name, *spec.aliases):
            self._names.setdefault(name, spec.name)

    def resolve(self, name: str, *, kind: str | None = None) -> ModelSpec:
        """The spec for a model name or alias; names only, never filesystem paths."""
        canonical = self._names.get(name)
        if canonical is None:
            raise ModelNotFound.named(name)
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
