"""`multai pull --url` and `multai rm --url`: through a running server, which serves the model
at once (and under Ray Serve copies it to every node), against a fake hub on loopback."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from openai import OpenAI

from multai_core.cli import pull as pull_cli
from multai_core.cli import store as store_cli
from multai_core.config import Config, ServerConfig
from multai_core.store.manifest import ModelStore
from multai_core.testing.fake_hub import FakeHub
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin
from tests.test_pull import safetensors_file


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    pull_cli.register(commands)
    store_cli.register(commands)
    args = parser.parse_args(argv)
    code = int(args.handler(args, Config()))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_pull_and_a_removal_through_the_server(
    hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.add_commit("acme/echo-weights", {"model.safetensors": safetensors_file(300_000)})
    config = Config(server=ServerConfig(models_dir=str(tmp_path / "models")))
    with make_server(EchoPlugin(), config) as base_url:
        reference = ["acme/echo-weights:*.safetensors", "--name", "api-echo", "--backend", "echo"]
        code, out, err = run(["pull", *reference, "--url", f"{base_url}/v1"], capsys)
        assert code == 0, err
        assert "model.safetensors: done" in out
        assert "pulled api-echo: the server serves it as 'api-echo'" in out
        client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
        assert "api-echo" in [m.id for m in client.models.list()]

        code, out, err = run(["pull", *reference, "--url", base_url], capsys)
        assert code == 1 and "api-echo is already pulled" in err

        code, out, _ = run(["rm", "api-echo", "--url", base_url], capsys)
        assert code == 0 and f"removed api-echo: the server at {base_url}" in out
        assert ModelStore(tmp_path / "models").entries() == []
        code, _, err = run(["rm", "api-echo", "--url", base_url], capsys)
        assert code == 1 and err.startswith(f"multai rm: 404 from {base_url}"), err


def test_a_server_that_is_not_there_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["pull", "whisper-base", "--url", "http://127.0.0.1:9"], capsys)
    assert code == 1 and "multai pull: cannot reach http://127.0.0.1:9" in err
