"""The core's rooms and their one-way doors: a module may import only the rooms its own room
may see (module-level imports and imports inside functions alike), and no import circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "multai_core"

# room -> the rooms it may import (besides itself)
DOORS: dict[str, set[str]] = {
    "plugin_api": set(),
    "protocol": {"plugin_api"},
    "media": {"plugin_api"},
    "config_check": {"plugin_api"},
    "config": {"plugin_api", "config_check"},
    "engine": {"plugin_api", "config"},
    "store": {"plugin_api", "config"},
    "registry": {"plugin_api", "config", "config_check", "store"},
    "plugins": {"plugin_api"},
    "serving": {
        "plugin_api",
        "protocol",
        "media",
        "config",
        "engine",
        "registry",
        "plugins",
        "store",
    },
    "server": {
        "plugin_api",
        "protocol",
        "media",
        "config",
        "engine",
        "registry",
        "plugins",
        "serving",
        "store",
    },
    # the Ray Serve deployment: the server's app and engine, on replicas; the nodes' stores
    "ray_serve": {"plugin_api", "config", "engine", "server", "serving", "store"},
    "cli": {
        "plugin_api",
        "config",
        "engine",
        "registry",
        "plugins",
        "server",
        "store",
        "ray_serve",
    },
    "testing": {"plugin_api", "protocol", "config", "engine", "server", "plugins"},
}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "multai_core" else None


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module != "multai_core":  # the package's own __version__
                found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("multai_core.")}


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_room_has_its_doors() -> None:
    rooms = {_room(m) for m in MODULES} - {None}
    assert rooms <= set(DOORS), f"rooms without doors: {sorted(rooms - set(DOORS))}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _room(m)))
def test_a_room_imports_only_through_its_doors(module: str) -> None:
    room = _room(module)
    assert room is not None
    allowed = DOORS[room] | {room}
    wrong = sorted(
        m for m in _imports(MODULES[module]) if (r := _room(m)) is not None and r not in allowed
    )
    assert not wrong, f"{module} ({room}) imports {wrong}; it may import {sorted(allowed)}"


def _module_level_graph() -> dict[str, set[str]]:
    """Imports run at import time (top-level statements, outside ``if TYPE_CHECKING``)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        edges: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names]
                edges.update(n for n in names if n in MODULES)
                if not any(n in MODULES for n in names):
                    edges.add(node.module)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names)
        graph[module] = {e for e in edges if e in MODULES and e != module}
    return graph


def test_no_import_circles() -> None:
    graph = _module_level_graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError(
                "import circle: " + " -> ".join([*path[path.index(module) :], module])
            )
        if module in done:
            return
        for other in sorted(graph[module]):
            visit(other, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
