"""`multai batches` against a keyed server with the echo plugin: open batches by default, ended
ones with --all, every page of GET /v1/batches, only the key's own batches, and one clear line
for no server, no key and a wrong key."""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI
from openai.types import Batch

from multai_core.cli import batches as batches_cli
from multai_core.config import ApiKeyEntry, Config, ServerConfig
from multai_core.testing.server import free_port
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin

ALICE, BOB = "sk-cli-batches-alice", "sk-cli-batches-bob"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d[ T]")
ENDED = {"completed", "failed", "expired", "cancelled"}


@pytest.fixture
def base_url(echo_plugin: EchoPlugin, tmp_path: Path) -> Iterator[str]:
    keys = [ApiKeyEntry(name="alice", key=ALICE), ApiKeyEntry(name="bob", key=BOB)]
    config = Config(server=ServerConfig(api_keys=list(keys), data_dir=str(tmp_path / "data")))
    with make_server(echo_plugin, config) as url:
        yield url


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MULTAI_API_KEY", "MULTAI_API_KEYS", "MULTAI_CONFIG", "MULTAI_SERVER__PORT"):
        monkeypatch.delenv(name, raising=False)


def _client(base_url: str, key: str = ALICE) -> OpenAI:
    return OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)


def _start(client: OpenAI, content: str, model: str = "echo", max_tokens: int = 4) -> Batch:
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    line = {
        "custom_id": "only",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {**body, "max_tokens": max_tokens},
    }
    file = client.files.create(file=("in.jsonl", json.dumps(line).encode()), purpose="batch")
    return client.batches.create(
        input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h"
    )


def _ended(client: OpenAI, batch_id: str) -> Batch:
    deadline = time.monotonic() + 30
    while (batch := client.batches.retrieve(batch_id)).status not in ENDED:
        assert time.monotonic() < deadline, batch
        time.sleep(0.05)
    return batch


def _rows(out: str) -> dict[str, list[str]]:
    """The table's rows by batch id (the in-process server's log lines share stdout)."""
    lines = [line for line in out.splitlines() if not LOG_LINE.match(line)]
    header = next(i for i, line in enumerate(lines) if line.startswith("ID "))
    assert lines[header].split() == [
        "ID",
        "STATUS",
        "ENDPOINT",
        "DONE/FAILED/TOTAL",
        "CREATED",
        "AGE",
    ]
    return {
        line.split()[0]: line.split() for line in lines[header + 1 :] if line.startswith("batch_")
    }


def _batches(base_url: str, *more: str, config: Config | None = None) -> int:
    """`multai batches` as its module registers it (main() does not find command modules yet:
    multai_core/cli/__init__.py still builds its parser by hand)."""
    parser = argparse.ArgumentParser(prog="multai")
    batches_cli.register(parser.add_subparsers())
    url = [] if config else ["--url", f"{base_url}/v1"]
    args = parser.parse_args(["batches", *url, *more])
    return int(args.handler(args, config or Config()))


def test_open_batches_by_default_ended_ones_with_all(
    base_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = _client(base_url)
    done = [_ended(alice, _start(alice, f"batch {i}").id) for i in range(3)]
    bobs = _ended(_client(base_url, BOB), _start(_client(base_url, BOB), "bob's").id)
    words = " ".join(f"w{i}" for i in range(1000))  # 50 s on "slow": open until cancelled
    running = _start(alice, words, model="slow", max_tokens=1200)
    monkeypatch.setenv("MULTAI_API_KEY", ALICE)
    monkeypatch.setattr(batches_cli, "PAGE", 2)  # 4 batches: the command must follow `after`
    try:
        assert _batches(base_url) == 0
        rows = _rows(capsys.readouterr().out)
        assert list(rows) == [running.id]
        status, endpoint, tally = rows[running.id][1:4]
        assert (status, endpoint) in {
            ("validating", "/v1/chat/completions"),
            ("in_progress", "/v1/chat/completions"),
        }
        assert tally in {"0/0/0", "0/0/1"}  # total is known once validated

        assert _batches(base_url, "--all") == 0
        rows = _rows(capsys.readouterr().out)
        assert list(rows) == [running.id, *(b.id for b in reversed(done))]  # newest first
        assert bobs.id not in rows
        for batch in done:
            _, status, endpoint, tally, day, clock, age = rows[batch.id]
            assert (status, endpoint, tally) == ("completed", "/v1/chat/completions", "1/0/1")
            created = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(batch.created_at))
            assert f"{day} {clock}" == created
            assert re.fullmatch(r"\d+s", age), age
    finally:
        alice.batches.cancel(running.id)
        _ended(alice, running.id)


def test_no_open_batches_says_so_on_the_configured_port(
    base_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MULTAI_API_KEY", BOB)
    port = int(base_url.rsplit(":", 1)[1])
    assert _batches(base_url, config=Config(server=ServerConfig(port=port))) == 0  # its port
    out = capsys.readouterr().out
    assert _rows(out) == {}
    assert "no open batches; --all shows ended ones too" in out


def test_without_a_key_says_to_set_it(base_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _batches(base_url) == 1
    err = capsys.readouterr().err
    assert "set MULTAI_API_KEY" in err
    assert '{"error"' not in err  # the server's message, not its JSON body
    assert err.count("\n") == 1


def test_a_wrong_key_says_it_was_refused(
    base_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MULTAI_API_KEY", "sk-not-a-key")
    assert _batches(base_url) == 1
    err = capsys.readouterr().err
    assert "refused the key in MULTAI_API_KEY" in err
    assert "sk-not-a-key" not in err
    assert err.count("\n") == 1


def test_no_server_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MULTAI_API_KEY", ALICE)
    url = f"http://127.0.0.1:{free_port()}"
    assert _batches(url) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"multai: cannot reach {url}") and "multai serve" in err
    assert err.count("\n") == 1
