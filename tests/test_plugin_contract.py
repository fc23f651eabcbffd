"""The contract: every hook documented, plugins discovered and restricted, no heavy imports."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from multai_core import hookspecs
from multai_core.plugins import make_plugin_manager
from multai_core.registry import Registry, collect_backends
from tests.echo_plugin import EchoPlugin

README = Path(__file__).resolve().parent.parent / "README.md"
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
    assert [b.name for b in collect_backends(pm)] == ["echo"]
    pm.unregister(plugin)
    assert collect_backends(pm) == []


def test_a_failing_plugin_does_not_break_registration() -> None:
    class Broken:
        @hookspecs.hookimpl
        def multai_register_backends(self, register: object) -> None:
            raise RuntimeError("boom")

    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Broken())
    pm.register(EchoPlugin())
    registry = Registry(collect_backends(pm), [])
    assert list(registry.models) == ["echo"]


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
