"""Operator mistakes in the config: each named in one line at start, all of them at once, and
`multai serve` exits with 2. A model whose file goes away after start answers 503."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from multai_core.config import ConfigError, load_config
from multai_core.plugin_api import (
    Backend,
    MemoryEstimate,
    ModelSpec,
    hookimpl,
    path_check,
)
from multai_core.plugins import make_plugin_manager
from multai_core.server.app import create_app
from multai_core.testing.server import free_port, threaded_server
from tests.conftest import CPU_ONLY
from tests.echo_plugin import EchoPlugin


def serve(config: Path) -> subprocess.CompletedProcess[str]:
    """`multai serve` with this config, as an operator runs it (no plugins in the core env)."""
    command = [sys.executable, "-m", "multai_core.cli", "--config", str(config)]
    command += ["serve", "--port", str(free_port())]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[server]\nprot = 1\n", "[server]: unknown key 'prot' (did you mean 'port'?)"),
        ("[servr]\n", "unknown table [servr] (did you mean [server]?)"),
        (
            '[[models]]\nname = "m"\nbackend = "b"\noption = {}\n',
            "[[models]] 'm': unknown key 'option' (did you mean 'options'?)",
        ),
        (
            '[[models]]\nname = "m"\nbackend = "b"\nkeepalive = 3\n',
            "[[models]] 'm': unknown key 'keepalive' (did you mean 'keep_alive'?)",
        ),
        (
            '[[models]]\nname = "m"\nbackend = "b"\npined = true\n',
            "[[models]] 'm': unknown key 'pined' (did you mean 'pinned'?)",
        ),
        ('[[models]]\nbackend = "b"\n', "[[models]] #1: missing key 'name'"),
        (
            '[[models]]\nname = "m"\nbackend = "brak"\n',
            "model 'm': backend 'brak' is not installed, and no backend is: install a plugin",
        ),
    ],
)
def test_a_mistake_is_named_and_serve_exits_2(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "multai.toml"
    config.write_text(toml)
    done = serve(config)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


def test_several_mistakes_give_one_line_each(tmp_path: Path) -> None:
    config = tmp_path / "multai.toml"
    config.write_text(
        """
[server]
prot = 1
[scheduler]
max_queue = "many"
[[models]]
name = "chat"
backend = "llamacpp"
option = { n_ctx = 512 }
pined = true
"""
    )
    done = serve(config)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "multai: 4 problems in the config:"
    assert [line.strip() for line in lines[1:]] == [
        "[server]: unknown key 'prot' (did you mean 'port'?)",
        "[scheduler] max_queue: Expected `int`, got `str`",
        "[[models]] 'chat': unknown key 'option' (did you mean 'options'?)",
        "[[models]] 'chat': unknown key 'pined' (did you mean 'pinned'?)",
    ]


class FilesPlugin(EchoPlugin):
    """The echo backend as a pack whose models are files: checked at start, read (their size,
    as an estimate does from a header) when a request needs the model."""

    @hookimpl
    def multai_register_backends(self, register: Callable[[Backend], None]) -> None:
        register(
            Backend(
                name="echo",
                tasks=frozenset({"chat"}),
                check=path_check("file", "a weights file"),
            )
        )

    @hookimpl
    def multai_estimate_memory(self, spec: ModelSpec) -> MemoryEstimate:
        return MemoryEstimate(cpu_bytes=Path(spec.path).stat().st_size)


def start(config_file: Path) -> None:
    """What `multai serve` does before it listens: read the config, build the app."""
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(FilesPlugin(), name="echo")
    create_app(load_config(config_file, {}), pm, probe=lambda: CPU_ONLY)


def test_model_mistakes_are_all_named_against_the_installed_backends(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    config = tmp_path / "multai.toml"
    config.write_text(
        f"""
[[models]]
name = "ok"
backend = "echo"
path = "{weights}"
aliases = ["fast"]
[[models]]
name = "typo"
backend = "ecko"
[[models]]
name = "no-path"
backend = "echo"
[[models]]
name = "gone"
backend = "echo"
path = "{tmp_path}/missing.bin"
[[models]]
name = "folder"
backend = "echo"
path = "{tmp_path}"
[[models]]
name = "fast"
backend = "echo"
path = "{weights}"
max_concurrency = 0
"""
    )
    with pytest.raises(ConfigError) as info:
        start(config)
    assert info.value.problems == [
        "model 'typo': backend 'ecko' is not installed (did you mean 'echo'?); installed "
        "backends: echo",
        "model 'no-path': no path: set path to a weights file, which the echo backend needs",
        f"model 'gone': path {tmp_path}/missing.bin does not exist (the echo backend needs a "
        "weights file)",
        f"model 'folder': path {tmp_path} is not a file (the echo backend needs a weights file)",
        "model 'fast': the name 'fast' is taken by model 'ok'; names and aliases must be unique",
        "model 'fast': max_concurrency must be at least 1",
    ]


def test_a_model_whose_file_is_deleted_after_start_is_503_naming_the_path(
    tmp_path: Path,
) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w" * 1024)
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(FilesPlugin(), name="echo")
    config = tmp_path / "multai.toml"
    config.write_text(f'[[models]]\nname = "m"\nbackend = "echo"\npath = "{weights}"\n')
    app = create_app(load_config(config, {}), pm, probe=lambda: CPU_ONLY)
    with threaded_server(app) as base:
        weights.unlink()
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hello"}]
            )
    assert info.value.status_code == 503
    body = info.value.body
    assert isinstance(body, dict) and body["code"] == "model_unavailable"
    assert str(weights) in body["message"] and "FileNotFoundError" in body["message"]
