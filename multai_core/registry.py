"""Which models exist: the installed plugins' defaults, the pulled models and the configured
[[models]], in that order; a later one takes over the names (and aliases) of an earlier one."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Literal

import msgspec

from multai_core.config import Config, ConfigError, models_dir
from multai_core.config_check import model_problems, spec_problems
from multai_core.plugin_api.errors import InvalidRequest, ModelNotFound
from multai_core.plugin_api.types import Backend, ModelSpec
from multai_core.store.manifest import ModelStore, PulledModel

ModelSource = Literal["default", "pulled", "config"]


class Registry:
    def __init__(
        self,
        backends: Iterable[Backend],
        configured: Iterable[ModelSpec],
        pulled: Iterable[PulledModel] = (),
        *,
        defaults: bool = True,
    ) -> None:
        self.backends: dict[str, Backend] = {}
        for backend in backends:
            self.backends[backend.name] = backend
        self.models: dict[str, ModelSpec] = {}
        self.sources: dict[str, ModelSource] = {}
        self.skipped: list[str] = []
        """One line per pulled model left out (its backend or its files are missing): the
        server logs each as a warning."""
        self._names: dict[str, str] = {}
        configured = list(configured)
        problems = model_problems(self.backends, configured)
        if problems:  # every mistake at once: the server does not start with any
            raise ConfigError(problems)
        layers: list[tuple[ModelSource, list[ModelSpec]]] = [
            ("default", self._defaults() if defaults else []),
            ("pulled", self._usable(pulled)),
            ("config", configured),
        ]
        chosen: dict[str, tuple[ModelSpec, ModelSource]] = {}
        for source, specs in layers:
            for spec in specs:
                spec = _take_over(chosen, spec, inherit=source == "pulled")
                chosen[spec.name] = (spec, source)
        for spec, source in chosen.values():
            self._add(spec, source)

    @classmethod
    def for_config(cls, backends: Iterable[Backend], config: Config) -> Registry:
        """The models a server with ``config`` serves, the model store included."""
        store = ModelStore(models_dir(config.server))
        return cls(backends, config.models, store.entries(), defaults=config.default_models)

    def _defaults(self) -> list[ModelSpec]:
        specs = [m for b in self.backends.values() for m in b.default_models]
        for spec in specs:  # a pack's defaults: a mistake there is the pack's
            problems = spec_problems(self.backends[spec.backend], spec, check=False)
            if problems:
                raise ConfigError([f"model '{spec.name}': {p}" for p in problems])
        return specs

    def _usable(self, pulled: Iterable[PulledModel]) -> list[ModelSpec]:
        """The pulled models that can be served; each other one is skipped with one warning,
        and the server starts without it."""
        usable = []
        for model in pulled:
            backend = self.backends.get(model.backend)
            if backend is None:
                reason = f"its backend '{model.backend}' is not installed"
            elif not os.path.exists(model.path):
                reason = f"its files are gone ({model.path}); pull it again or `multai rm` it"
            else:
                reason = "; ".join(spec_problems(backend, model.spec()))
            if reason:
                line = f"pulled model '{model.name}' is not served: {reason}"
                self.skipped.append(line)
                continue
            usable.append(model.spec())
        return usable

    def _add(self, spec: ModelSpec, source: ModelSource) -> None:
        backend = self.backends[spec.backend]
        if spec.max_concurrency is None:
            concurrency = backend.concurrency(spec) if backend.concurrency is not None else 1
            spec = msgspec.structs.replace(spec, max_concurrency=max(1, concurrency))
        self.models[spec.name] = spec
        self.sources[spec.name] = source
        for name in (spec.name, *spec.aliases):
            self._names.setdefault(name, spec.name)

    def source_of(self, name: str) -> ModelSource:
        """Where a served model came from: a plugin's defaults, the store or the config."""
        return self.sources[self.resolve(name).name]

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


def _take_over(
    chosen: dict[str, tuple[ModelSpec, ModelSource]], spec: ModelSpec, *, inherit: bool
) -> ModelSpec:
    """``spec`` comes later than what ``chosen`` holds: a model whose name it uses is replaced,
    and an alias it uses moves to it. With ``inherit``, a replacement that names no aliases
    keeps the replaced model's: a pull cannot name any, and `multai pull whisper-base` should
    still answer to ``whisper-1``; a [[models]] entry says all it answers to."""
    taken = {spec.name, *spec.aliases}
    inherited: tuple[str, ...] = ()
    for name, (earlier, source) in list(chosen.items()):
        if name in taken:
            del chosen[name]
            if inherit and name == spec.name and not spec.aliases:
                inherited = earlier.aliases
        elif taken & set(earlier.aliases):
            kept = tuple(a for a in earlier.aliases if a not in taken)
            chosen[name] = (msgspec.structs.replace(earlier, aliases=kept), source)
    return msgspec.structs.replace(spec, aliases=inherited) if inherited else spec
