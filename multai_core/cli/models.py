"""`multai models` and `multai plugins`: what this machine would serve, without a server."""

from __future__ import annotations

import argparse
import sys

from multai_core.config import Config

ORDER = 10


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = sub.add_parser("models", help="list models, their estimates and placement now")
    models.set_defaults(handler=_models)
    plugins = sub.add_parser("plugins", help="list installed plugins and their backends")
    plugins.set_defaults(handler=_plugins)


def _models(_: argparse.Namespace, config: Config) -> int:
    from multai_core.engine.memory import MemoryManager
    from multai_core.engine.packs import Packs
    from multai_core.plugins import make_plugin_manager
    from multai_core.registry import Registry

    packs = Packs(make_plugin_manager())
    registry = Registry.for_config(packs.backends, config)
    for line in registry.skipped:
        print(f"multai: {line}", file=sys.stderr)
    memory = MemoryManager(packs, config.memory)
    if not registry.models:
        print(
            "no models: install a plugin (e.g. multai-llamacpp[default-model])"
            ", configure [[models]] or `multai pull` one"
        )
        return 0
    print(f"{'MODEL':32} {'BACKEND':12} {'ESTIMATE':>10}  {'PLACEMENT':24} {'SOURCE':8} ALIASES")
    for spec in registry.models.values():
        try:
            estimate, placement = memory.plan(spec)
            size = f"{estimate.cpu_bytes / 2**20:.0f} MiB"
            where = (
                "does not fit" if placement is None else f"{placement.kind} ({placement.device})"
            )
        except Exception as exc:
            size, where = "?", f"estimate failed: {type(exc).__name__}"
        aliases = ", ".join(spec.aliases) or "-"
        source = registry.sources[spec.name]
        print(f"{spec.name:32} {spec.backend:12} {size:>10}  {where:24} {source:8} {aliases}")
    return 0


def _plugins(_: argparse.Namespace, __: Config) -> int:
    from multai_core.engine.packs import Packs
    from multai_core.plugins import make_plugin_manager, plugin_list

    pm = make_plugin_manager()
    backends = Packs(pm).backends
    for plugin in plugin_list(pm):
        print(
            f"{plugin['name']}: {plugin['distribution'] or '-'} {plugin['version'] or ''}".rstrip()
        )
    for backend in backends:
        print(f"  backend {backend.name}: {', '.join(sorted(backend.tasks))}")
    return 0
