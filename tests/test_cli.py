"""The `multai` command as a new user meets it: `ps` against a keyed server on the configured
port, `models` with aliases, and one clean message for a config mistake."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest
from openai import OpenAI

from multai_core import cli
from multai_core.config import Config, ServerConfig
from multai_core.plugin_api.types import ModelSpec
from multai_core.plugins import make_plugin_manager
from multai_core.testing.server import free_port
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin

KEY = "sk-cli-canary-2718"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d[ T]")


@pytest.fixture
def keyed_server(echo_plugin: EchoPlugin) -> Iterator[str]:
    with make_server(echo_plugin, Config(server=ServerConfig(api_keys=[KEY]))) as base_url:
        yield base_url


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MULTAI_API_KEY", "MULTAI_API_KEYS", "MULTAI_CONFIG", "MULTAI_SERVER__PORT"):
        monkeypatch.delenv(name, raising=False)


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "multai.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _table(out: str) -> list[str]:
    """The command's table (the in-process server's own log lines share stdout in a test)."""
    lines = out.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("MODEL ")]
    assert starts, out
    return [line for line in lines[starts[0] :] if not LOG_LINE.match(line)]


def _port(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


def test_ps_reaches_the_configured_port_with_the_key(
    keyed_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    OpenAI(base_url=f"{keyed_server}/v1", api_key=KEY, max_retries=0).chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "load it"}], max_tokens=2
    )
    config = _config(tmp_path, f"[server]\nport = {_port(keyed_server)}\n")
    monkeypatch.setenv("MULTAI_API_KEY", KEY)
    assert cli.main(["--config", config, "ps"]) == 0
    table = _table(capsys.readouterr().out)
    assert any(line.split()[0] == "echo" for line in table[1:]), table


def test_ps_without_a_key_says_to_set_it(
    keyed_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, f"[server]\nport = {_port(keyed_server)}\n")
    assert cli.main(["--config", config, "ps"]) == 1
    err = capsys.readouterr().err
    assert "set MULTAI_API_KEY" in err
    assert '{"error"' not in err  # the server's message, not its JSON body
    assert err.count("\n") == 1


def test_ps_with_a_wrong_key_says_it_was_refused(
    keyed_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _config(tmp_path, f"[server]\nport = {_port(keyed_server)}\n")
    monkeypatch.setenv("MULTAI_API_KEY", "sk-wrong")
    assert cli.main(["--config", config, "ps"]) == 1
    err = capsys.readouterr().err
    assert "refused the key in MULTAI_API_KEY" in err and "sk-wrong" not in err


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_ps_takes_the_sdk_base_url(
    keyed_server: str,
    suffix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MULTAI_API_KEY", KEY)
    assert cli.main(["ps", "--url", keyed_server + suffix]) == 0
    assert _table(capsys.readouterr().out)


def test_ps_uses_https_when_tls_is_configured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    cert = tmp_path / "cert.pem"
    cert.write_text("unused", encoding="utf-8")
    config = _config(
        tmp_path,
        f'[server]\nport = {port}\ntls_certfile = "{cert}"\ntls_keyfile = "{cert}"\n',
    )
    assert cli.main(["--config", config, "ps"]) == 1
    assert f"cannot reach https://127.0.0.1:{port}" in capsys.readouterr().err


def _echo_packs(monkeypatch: pytest.MonkeyPatch, plugin: EchoPlugin) -> None:
    """`multai models` finds the in-process echo plugin as if it were installed."""

    def plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
        pm = make_plugin_manager(load_entry_points=False)
        pm.register(plugin, name="echo")
        return pm

    monkeypatch.setattr("multai_core.plugins.make_plugin_manager", plugin_manager)


def test_models_lists_aliases(
    echo_plugin: EchoPlugin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _echo_packs(monkeypatch, echo_plugin)
    assert cli.main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-1] == "ALIASES"
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["echo"].endswith(" echo-alias")
    assert rows["slow"].endswith(" -")


def test_a_config_mistake_in_a_subcommand_is_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _echo_packs(monkeypatch, EchoPlugin([ModelSpec(name="echo", backend="echo")]))
    config = _config(tmp_path, '[[models]]\nname = "echo"\nbackend = "echo"\nmax_concurrency = 0\n')
    assert cli.main(["--config", config, "models"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("multai: ") and "max_concurrency" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_serve_ray_without_ray_says_what_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("ray", "multai_core.ray_serve.deploy"):  # as if Ray were not installed
        monkeypatch.setitem(sys.modules, module, None)
    assert cli.main(["serve", "--ray"]) == 2
    assert 'pip install "multai-core[ray]"' in capsys.readouterr().err


def test_serve_ray_refuses_fewer_replicas_than_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--ray", "--replicas", "0"]) == 2
    assert "--replicas must be at least 1" in capsys.readouterr().err
