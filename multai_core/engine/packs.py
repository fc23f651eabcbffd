"""Which pack serves each backend, and the calls to it.

Hooks other than registration and authentication are never broadcast: each call goes to the
one pack that registered the model's backend (pluggy's subset hook caller), so a pack's hooks
see only their own specs and handles and the core has no "no plugin answered" paths."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import pluggy
import structlog

from multai_core.plugin_api.results import InferResult
from multai_core.plugin_api.tasks import Task
from multai_core.plugin_api.types import (
    Backend,
    DeviceSnapshot,
    MemoryEstimate,
    ModelSpec,
    Placement,
)

log = structlog.get_logger(__name__)

REQUIRED_HOOKS = ("multai_estimate_memory", "multai_load", "multai_infer")


class PackHooks:
    """The hooks of the pack that registered one backend."""

    def __init__(self, pm: pluggy.PluginManager, plugin: object, backend: Backend) -> None:
        self._pm = pm
        self._plugin = plugin
        self.backend = backend

    def _caller(self, name: str) -> pluggy.HookCaller:
        others = [p for p in self._pm.get_plugins() if p is not self._plugin]
        return self._pm.subset_hook_caller(name, others)

    def estimate(self, spec: ModelSpec, devices: DeviceSnapshot) -> MemoryEstimate:
        estimate: MemoryEstimate = self._caller("multai_estimate_memory")(
            spec=spec, devices=devices
        )
        return estimate

    def load(self, spec: ModelSpec, placement: Placement) -> object:
        handle: object = self._caller("multai_load")(spec=spec, placement=placement)
        if handle is None:
            raise TypeError(f"the pack of backend '{spec.backend}' returned no handle")
        return handle

    def unload(self, handle: object) -> None:
        self._caller("multai_unload")(handle=handle)

    def infer(self, handle: object, task: Task, cancel: threading.Event) -> InferResult:
        result: InferResult | None = self._caller("multai_infer")(
            handle=handle, task=task, cancel=cancel
        )
        if result is None:
            raise TypeError(f"multai_infer returned nothing for a {task.kind} task")
        return result


class Packs:
    """Every backend the installed packs register, with the hooks that serve it."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.hooks: dict[str, PackHooks] = {}
        for plugin, backend in _registrations(pm):
            name = pm.get_name(plugin)
            missing = [h for h in REQUIRED_HOOKS if not _implements(pm, plugin, h)]
            if missing:
                log.error("backend_incomplete", plugin=name, backend=backend.name, missing=missing)
            elif backend.name in self.hooks:
                log.error("backend_registered_twice", plugin=name, backend=backend.name)
            else:
                self.hooks[backend.name] = PackHooks(pm, plugin, backend)

    @property
    def backends(self) -> list[Backend]:
        return [h.backend for h in self.hooks.values()]

    def of(self, spec: ModelSpec) -> PackHooks:
        return self.hooks[spec.backend]


def _implements(pm: pluggy.PluginManager, plugin: object, hook: str) -> bool:
    return any(impl.plugin is plugin for impl in getattr(pm.hook, hook).get_hookimpls())


def _registrations(pm: pluggy.PluginManager) -> Iterable[tuple[object, Backend]]:
    for impl in pm.hook.multai_register_backends.get_hookimpls():
        found: list[Backend] = []
        try:
            impl.function(register=found.append)
        except Exception as exc:  # a plugin that fails must not take the server down
            log.error("register_backends_failed", plugin=impl.plugin_name, error=repr(exc))
            continue
        for backend in found:
            yield impl.plugin, backend
