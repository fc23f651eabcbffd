"""The contract: every hook documented, plugins discovered and restricted, no heavy imports."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from multai_core import plugin_api
from multai_core.engine.packs import Packs
from multai_core.plugin_api import (
    Backend,
    DeviceSnapshot,
    EmbeddingResult,
    MemoryEstimate,
    ModelSpec,
    Placement,
    Task,
    hookspecs,
)
from multai_core.plugins import make_plugin_manager
from multai_core.registry import Registry
from tests.echo_plugin import EchoPlugin

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
HOOKS = [
    name
    for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("multai_")
]


def test_there_are_hooks() -> None:
    assert set(HOOKS) == {
        "multai_register_backends",
        "multai_estimate_memory",
        "multai_load",
        "multai_unload",
        "multai_infer",
        "multai_authenticate",
    }


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook: str) -> None:
    assert (getattr(hookspecs, hook).__doc__ or "").strip(), f"{hook} has no docstring"
    assert f"`{hook}(" in README.read_text(), f"{hook} is not documented in README.md"


def test_fixture_plugins_register_and_unregister() -> None:
    pm = make_plugin_manager(load_entry_points=False)
    plugin = EchoPlugin()
    pm.register(plugin, name="echo")
    assert [b.name for b in Packs(pm).backends] == ["echo"]
    pm.unregister(plugin)
    assert Packs(pm).backends == []


def test_a_failing_plugin_does_not_break_registration() -> None:
    class Broken:
        @hookspecs.hookimpl
        def multai_register_backends(self, register: object) -> None:
            raise RuntimeError("boom")

    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Broken())
    pm.register(EchoPlugin())
    registry = Registry(Packs(pm).backends, [])
    assert list(registry.models) == ["echo"]


class Recorder:
    """A second pack: records every hook call that reaches it."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookspecs.hookimpl
    def multai_register_backends(self, register: Callable[[Backend], None]) -> None:
        register(Backend(name="recorder", tasks=frozenset({"embedding"})))

    @hookspecs.hookimpl
    def multai_estimate_memory(self, spec: ModelSpec) -> MemoryEstimate:
        self.seen.append(f"estimate {spec.name}")
        return MemoryEstimate(cpu_bytes=1)

    @hookspecs.hookimpl
    def multai_load(self, spec: ModelSpec) -> str:
        self.seen.append(f"load {spec.name}")
        return "recorder handle"

    @hookspecs.hookimpl
    def multai_unload(self, handle: str) -> None:
        self.seen.append(f"unload {handle}")

    @hookspecs.hookimpl
    def multai_infer(self, handle: str, task: Task) -> EmbeddingResult:
        self.seen.append(f"infer {handle}")
        return EmbeddingResult(vectors=[[1.0]], prompt_tokens=1)


def test_each_hook_reaches_only_the_pack_of_the_backend() -> None:
    pm = make_plugin_manager(load_entry_points=False)
    recorder, echo = Recorder(), EchoPlugin()
    pm.register(recorder)
    pm.register(echo)
    packs = Packs(pm)
    ours = ModelSpec(name="r", backend="recorder")
    theirs = ModelSpec(name="echo", backend="echo")
    task = Task(id="t", kind="embedding", model="r", payload=None)
    for spec in (ours, theirs):
        hooks = packs.of(spec)
        hooks.estimate(spec, DeviceSnapshot())
        handle = hooks.load(spec, Placement(kind="cpu"))
        if spec is ours:
            hooks.infer(handle, task, threading.Event())
        hooks.unload(handle)
    assert recorder.seen == [
        "estimate r",
        "load r",
        "infer recorder handle",
        "unload recorder handle",
    ]
    assert [name for name, _ in echo.loads] == ["echo"] and echo.unloads == ["echo"]


def test_a_backend_without_the_required_hooks_is_left_out() -> None:
    class Incomplete:
        @hookspecs.hookimpl
        def multai_register_backends(self, register: Callable[[Backend], None]) -> None:
            register(Backend(name="incomplete", tasks=frozenset({"chat"})))

    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Incomplete())
    pm.register(EchoPlugin())
    assert [b.name for b in Packs(pm).backends] == ["echo"]


def _run(code: str, **env: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, **env},
    ).stdout.strip()


def test_import_is_light() -> None:
    code = (
        "import sys, multai_core, multai_core.server.app, multai_core.cli;"
        "print(sorted(m for m in ('torch', 'llama_cpp', 'ctranslate2', 'diffusers', 'transformers') if m in sys.modules))"
    )
    assert _run(code) == "[]"


def test_load_plugins_env_restricts_discovery() -> None:
    code = "from multai_core.plugins import make_plugin_manager as m; print(sorted(n for n, p in m().list_name_plugin() if p))"
    assert _run(code, MULTAI_LOAD_PLUGINS="") == "[]"
    assert _run(code, MULTAI_LOAD_PLUGINS="does-not-exist") == "[]"


def _core_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "multai_core" or m.startswith("multai_core.")}


PACK_SOURCES = sorted(ROOT.glob("plugins/multai-*/multai_*/**/*.py"))


def test_there_are_packs_to_check() -> None:
    assert len({p.relative_to(ROOT).parts[1] for p in PACK_SOURCES}) >= 5


@pytest.mark.parametrize("path", PACK_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_packs_import_only_the_public_package(path: Path) -> None:
    outside = {
        m
        for m in _core_imports(path)
        if m != "multai_core.plugin_api" and not m.startswith("multai_core.plugin_api.")
    }
    assert not outside, (
        f"{path.name} imports {sorted(outside)}: packs import multai_core.plugin_api only"
    )


@pytest.mark.parametrize("name", plugin_api.__all__)
def test_every_public_name_is_documented(name: str) -> None:
    assert f"`{name}`" in README.read_text(), f"{name} is public but README.md does not name it"
