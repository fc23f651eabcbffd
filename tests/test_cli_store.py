"""`multai list`, `multai rm` and the SOURCE column of `multai models`, as an operator runs them
against a model store in a temporary folder and the echo plugin."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pluggy
import pytest

from multai_core.cli import models as models_cli
from multai_core.cli import store as store_cli
from multai_core.config import Config, ServerConfig, models_dir
from multai_core.plugin_api.types import ModelSpec
from multai_core.plugins import make_plugin_manager
from multai_core.store.manifest import ModelStore, PulledModel
from tests.echo_plugin import EchoPlugin

SHA = "3c1a5e7f9b2d4c6e8a0b1c2d3e4f5a6b7c8d9e0f"


def _run(
    argv: list[str], config: Config, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="multai")
    sub = parser.add_subparsers(dest="command", required=True)
    models_cli.register(sub)
    store_cli.register(sub)
    args = parser.parse_args(argv)
    code = int(args.handler(args, config))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def echo_packs(echo_plugin: EchoPlugin, monkeypatch: pytest.MonkeyPatch) -> None:
    def plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
        pm = make_plugin_manager(load_entry_points=False)
        pm.register(echo_plugin, name="echo")
        return pm

    monkeypatch.setattr("multai_core.plugins.make_plugin_manager", plugin_manager)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        server=ServerConfig(models_dir=str(tmp_path / "store"), data_dir=str(tmp_path / "data")),
        models=[ModelSpec(name="mine", backend="echo", aliases=("my-alias",))],
    )


def _pull(config: Config, name: str, size: int, **fields: object) -> PulledModel:
    store = ModelStore(models_dir(config.server))
    folder = store.folder_for(name)
    folder.mkdir(parents=True)
    (folder / "model.gguf").write_bytes(b"\0" * size)
    model = PulledModel(
        name=name,
        backend="echo",
        path=str(folder / "model.gguf"),
        source=f"someone/{name}-GGUF",
        revision=SHA,
        files=("model.gguf",),
        size_bytes=size,
        pulled_at=time.mktime((2026, 11, 30, 9, 15, 0, 0, 0, -1)),
        **fields,  # type: ignore[arg-type]
    )
    store.record(model)
    return model


def test_list_shows_each_pulled_model(config: Config, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = _pull(config, "tiny-chat", 3 * 2**20 // 2)
    _pull(config, "alpha", 10)
    code, out, _ = _run(["list"], config, capsys)
    assert code == 0
    header, first, second = out.splitlines()
    assert header.split() == ["NAME", "BACKEND", "SIZE", "SOURCE", "REVISION", "PULLED", "PATH"]
    assert first.split()[:4] == ["alpha", "echo", "10", "B"]
    assert second.split() == [
        "tiny-chat", "echo", "1.5", "MiB", "someone/tiny-chat-GGUF", SHA[:12],
        "2026-11-30", "09:15", tiny.path,
    ]  # fmt: skip


def test_list_of_an_empty_store_says_how_to_fill_it(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(["list"], config, capsys)
    assert code == 0
    assert (
        out == f"no pulled models in {models_dir(config.server)}: `multai pull NAME` fetches one\n"
    )
    assert not models_dir(config.server).exists()


def test_rm_removes_the_model_and_its_files(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = _pull(config, "gone", 2048)
    _pull(config, "kept", 1)
    code, out, err = _run(["rm", "gone"], config, capsys)
    assert (code, err) == (0, "")
    assert out.startswith("removed gone (2.0 KiB, ")
    assert not Path(gone.path).parent.exists()
    assert [m.name for m in ModelStore(models_dir(config.server)).entries()] == ["kept"]
    code, out, _ = _run(["list"], config, capsys)
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["kept"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("tiny-chta", "no pulled model 'tiny-chta' (did you mean 'tiny-chat'?); `multai list`"),
        ("nothing-like-it", "no pulled model 'nothing-like-it'; `multai list` shows"),
        ("../etc", "no pulled model '../etc'"),
        ("tc", "'tc' is an alias of the pulled model 'tiny-chat': multai rm tiny-chat"),
        ("mine", "'mine' is configured in [[models]], not pulled: remove its entry"),
        ("my-alias", "'my-alias' is configured in [[models]]"),
        ("echo-alias", "'echo-alias' is a default model of the echo plugin, not pulled: set "
         "default_models = false"),
    ],
)  # fmt: skip
def test_rm_of_a_model_that_is_not_pulled_says_why_and_fails(
    config: Config, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    kept = _pull(config, "tiny-chat", 8, aliases=("tc",))
    code, out, err = _run(["rm", name], config, capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"multai: {message}") and len(err.splitlines()) == 1
    assert Path(kept.path).exists()
    assert ModelStore(models_dir(config.server)).get("tiny-chat") == kept


def test_models_says_where_each_model_came_from(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    _pull(config, "pulled-one", 8)
    _pull(config, "mine", 8)  # the configured entry of this name wins
    broken = _pull(config, "broken", 8)
    Path(broken.path).unlink()
    code, out, err = _run(["models"], config, capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[-2:] == ["SOURCE", "ALIASES"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert {name: row[-2] for name, row in rows.items()} == {
        "echo": "default",
        "slow": "default",
        "pulled-one": "pulled",
        "mine": "config",
    }
    assert rows["mine"][-1] == "my-alias" and rows["echo"][-1] == "echo-alias"
    assert (
        err
        == f"multai: pulled model 'broken' is not served: its files are gone ({broken.path}); pull it again or `multai rm` it\n"
    )
