"""The plugin manager: hook specs, entry-point discovery and MULTAI_LOAD_PLUGINS."""

from __future__ import annotations

import os
from importlib.metadata import entry_points

import pluggy
import structlog

from multai_core.plugin_api import hookspecs

ENTRY_POINT_GROUP = "multai"
log = structlog.get_logger(__name__)


def _allowed_plugins() -> set[str] | None:
    """MULTAI_LOAD_PLUGINS: unset loads every installed plugin; a comma-separated list loads
    only those entry-point names; an empty value loads none."""
    raw = os.environ.get("MULTAI_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def make_plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    if load_entry_points:
        load_installed_plugins(pm)
    return pm


def load_installed_plugins(pm: pluggy.PluginManager) -> None:
    allowed = _allowed_plugins()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
        except Exception as exc:  # a broken plugin must not take the server down
            log.error("plugin_load_failed", plugin=ep.name, error=f"{type(exc).__name__}: {exc}")


def plugin_list(pm: pluggy.PluginManager) -> list[dict[str, str | None]]:
    """Registered plugins with their distribution name and version, where known."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    result: list[dict[str, str | None]] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None or name.startswith("_"):
            continue
        dist = dists.get(id(plugin))
        result.append(
            {
                "name": name,
                "distribution": dist.metadata["Name"] if dist is not None else None,
                "version": dist.version if dist is not None else None,
            }
        )
    return result
