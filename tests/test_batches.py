"""The Batch API through the openai SDK on the echo plugin: the lifecycle, output in input
order with the endpoint's bodies, the error file, validation errors, cancel, another key's 404,
the per-key limit, interactive requests going first, and a kill -9 mid-batch."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types import Batch

from multai_core.config import ApiKeyEntry, Config, SchedulerConfig, ServerConfig
from multai_core.plugin_api.principal import Principal
from multai_core.plugin_api.types import ModelSpec
from multai_core.protocol.batches import Batch as StoredBatchObject
from multai_core.protocol.batches import RequestCounts
from multai_core.serving.batch_store import BatchStore, PendingLine
from multai_core.testing.openai_spec import validate
from multai_core.testing.server import free_port, wait_until_healthy
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin

ROOT = Path(__file__).resolve().parent.parent
KEYS = [
    ApiKeyEntry(name="alice", key="key-alice"),
    ApiKeyEntry(name="bob", key="key-bob"),
    ApiKeyEntry(name="root", key="key-root", admin=True),
]
ENDED = {"completed", "failed", "expired", "cancelled"}


def _config(data_dir: Path, **server: object) -> Config:
    return Config(server=ServerConfig(api_keys=list(KEYS), data_dir=str(data_dir), **server))  # type: ignore[arg-type]


def _client(base_url: str, key: str = "key-alice") -> OpenAI:
    return OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)


def _line(custom_id: str, body: dict[str, Any], url: str = "/v1/chat/completions") -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


def _chat(text: str, model: str = "echo", **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **fields}


def _upload(client: OpenAI, lines: list[str]) -> str:
    content = ("\n".join(lines) + "\n").encode()
    return client.files.create(file=("in.jsonl", content), purpose="batch").id


def _start(client: OpenAI, lines: list[str], endpoint: str = "/v1/chat/completions") -> Batch:
    return client.batches.create(
        input_file_id=_upload(client, lines),
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
    )


def _wait(client: OpenAI, batch_id: str, until: set[str] = ENDED, timeout: float = 30) -> Batch:
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in until or time.monotonic() > deadline:
            assert batch.status in until, f"{batch_id} is still {batch.status}"
            return batch
        time.sleep(0.05)


def _lines_of(client: OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    text = client.files.content(file_id).text
    return [json.loads(line) for line in text.splitlines() if line]


def _metrics_show(client: OpenAI, base_url: str, line: str, timeout: float = 5) -> str:
    """The /metrics text once it has ``line`` (the runner measures after each look)."""
    deadline = time.monotonic() + timeout
    while True:
        text = str(client.with_options(base_url=base_url).get("/metrics", cast_to=str))
        if line in text or time.monotonic() > deadline:
            assert line in text
            return text
        time.sleep(0.05)


@pytest.fixture
def base_url(echo_plugin: EchoPlugin, tmp_path: Path) -> Iterator[str]:
    with make_server(echo_plugin, _config(tmp_path, max_open_batches_per_key=2)) as url:
        yield url


def test_lifecycle_output_in_input_order_with_endpoint_bodies(base_url: str) -> None:
    client = _client(base_url)
    lines = [_line(f"req-{i}", _chat(f"hello number {i}")) for i in range(12)]
    created = client.batches.create(
        input_file_id=_upload(client, lines),
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"job": "nightly"},
    )
    assert created.status == "validating"
    assert created.metadata == {"job": "nightly"}
    assert created.expires_at == created.created_at + 24 * 3600
    batch = _wait(client, created.id)
    assert batch.status == "completed", batch.errors
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (12, 12)
    assert batch.request_counts.failed == 0
    assert batch.in_progress_at and batch.finalizing_at and batch.completed_at
    assert created.created_at <= batch.in_progress_at <= batch.finalizing_at <= batch.completed_at
    assert batch.error_file_id is None
    validate("Batch", json.loads(client.batches.with_raw_response.retrieve(batch.id).text))
    output = _lines_of(client, batch.output_file_id)
    assert [o["custom_id"] for o in output] == [f"req-{i}" for i in range(12)]
    for i, row in enumerate(output):
        assert row["error"] is None
        assert row["id"].startswith("batch_req_")
        assert row["response"]["status_code"] == 200
        body = row["response"]["body"]
        validate("CreateChatCompletionResponse", body)
        assert body["id"] == f"chatcmpl-{row['response']['request_id']}"
        assert body["choices"][0]["message"]["content"] == f"hello number {i}"
    assert client.files.retrieve(batch.output_file_id).purpose == "batch_output"  # type: ignore[arg-type]


def test_embeddings_and_completions_batches(base_url: str) -> None:
    client = _client(base_url)
    batch = _start(
        client,
        [_line("e1", {"model": "echo", "input": "abc"}, "/v1/embeddings")],
        "/v1/embeddings",
    )
    done = _wait(client, batch.id)
    body = _lines_of(client, done.output_file_id)[0]["response"]["body"]
    validate("CreateEmbeddingResponse", body)
    assert body == client.embeddings.create(
        model="echo", input="abc", encoding_format="float"
    ).model_dump(mode="json")
    batch = _start(
        client,
        [_line("c1", {"model": "echo", "prompt": "one two", "max_tokens": 5}, "/v1/completions")],
        "/v1/completions",
    )
    done = _wait(client, batch.id)
    body = _lines_of(client, done.output_file_id)[0]["response"]["body"]
    validate("CreateCompletionResponse", body)
    assert body["choices"][0]["text"] == "one two"
    batch = _start(
        client,
        [_line("r1", {"model": "echo", "input": "three four"}, "/v1/responses")],
        "/v1/responses",
    )
    done = _wait(client, batch.id)
    body = _lines_of(client, done.output_file_id)[0]["response"]["body"]
    validate("Response", body)
    assert body["output"][0]["content"][0]["text"] == "three four"
    assert client.responses.retrieve(body["id"]).id == body["id"]  # stored, as by the endpoint


def test_failing_lines_go_to_the_error_file_with_the_endpoints_error(base_url: str) -> None:
    client = _client(base_url)
    lines = [
        _line("ok-1", _chat("fine")),
        _line("bad-body", {"model": "echo", "messages": "not a list"}),
        _line("too-long", _chat("too long")),
        _line("ok-2", _chat("also fine")),
    ]
    batch = _wait(client, _start(client, lines).id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 2)
    assert [o["custom_id"] for o in _lines_of(client, batch.output_file_id)] == ["ok-1", "ok-2"]
    errors = {e["custom_id"]: e for e in _lines_of(client, batch.error_file_id)}
    assert list(errors) == ["bad-body", "too-long"]
    bad = errors["bad-body"]["response"]
    assert bad["status_code"] == 400
    assert bad["body"]["error"]["param"] == "messages"
    assert "Invalid request body" in bad["body"]["error"]["message"]
    long = errors["too-long"]["response"]
    assert long["status_code"] == 400
    assert long["body"]["error"]["code"] == "context_length_exceeded"


def test_a_file_that_fails_validation_fails_the_batch_with_errors(base_url: str) -> None:
    client = _client(base_url)
    lines = [
        _line("a", _chat("x")),
        _line("b", _chat("x", model="no-such-model")),
        _line("c", {"model": "echo", "input": "x"}, "/v1/embeddings"),
    ]
    batch = _wait(client, _start(client, lines).id)
    assert batch.status == "failed"
    assert batch.failed_at is not None
    assert batch.errors is not None and batch.errors.data is not None
    found = {(e.code, e.line, e.param) for e in batch.errors.data}
    assert found == {("model_not_found", 2, "body.model"), ("invalid_url", 3, "url")}
    assert batch.output_file_id is None


def test_create_refuses_what_openai_refuses(base_url: str) -> None:
    client = _client(base_url)
    file_id = _upload(client, [_line("a", _chat("x"))])
    with pytest.raises(openai.BadRequestError, match="completion_window"):
        client.batches.create(
            input_file_id=file_id,
            endpoint="/v1/chat/completions",
            completion_window="1h",  # type: ignore[arg-type]
        )
    with pytest.raises(openai.BadRequestError, match="endpoint"):
        client.batches.create(
            input_file_id=file_id,
            endpoint="/v1/moderations",  # type: ignore[arg-type]
            completion_window="24h",
        )
    with pytest.raises(openai.NotFoundError):
        client.batches.create(
            input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h"
        )
    other = client.files.create(file=("a.txt", b"x"), purpose="user_data")
    with pytest.raises(openai.BadRequestError, match="purpose 'batch'"):
        client.batches.create(
            input_file_id=other.id, endpoint="/v1/chat/completions", completion_window="24h"
        )


def test_another_key_gets_404_and_an_admin_sees_all(base_url: str) -> None:
    alice, bob = _client(base_url), _client(base_url, "key-bob")
    batch = _wait(alice, _start(alice, [_line("a", _chat("x"))]).id)
    with pytest.raises(openai.NotFoundError):
        bob.batches.retrieve(batch.id)
    with pytest.raises(openai.NotFoundError):
        bob.batches.cancel(batch.id)
    with pytest.raises(openai.NotFoundError):
        bob.files.content(batch.output_file_id)  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):  # bob cannot start a batch on alice's file
        bob.batches.create(
            input_file_id=batch.input_file_id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
        )
    assert [b.id for b in bob.batches.list().data] == []
    root = _client(base_url, "key-root")
    assert batch.id in [b.id for b in root.batches.list().data]


def test_list_pages_newest_first(base_url: str) -> None:
    client = _client(base_url)
    ids = [_wait(client, _start(client, [_line("a", _chat("x"))]).id).id for _ in range(3)]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2]
    assert page.has_more
    rest = client.batches.list(limit=2, after=page.data[-1].id)
    assert [b.id for b in rest.data] == [ids[0]]
    assert not rest.has_more
    assert [b.id for b in client.batches.list()] == ids[::-1]  # the SDK's own paging
    allowed = httpx.options(f"{base_url}/v1/batches", headers={"authorization": "Bearer key-alice"})
    assert allowed.headers["allow"] == "GET, OPTIONS, POST"


def test_per_key_limit_on_open_batches(echo_plugin: EchoPlugin, tmp_path: Path) -> None:
    config = _config(tmp_path, max_open_batches_per_key=1)
    with make_server(echo_plugin, config) as url:
        client = _client(url)
        words = " ".join(f"w{i}" for i in range(400))  # 20 s: open until cancelled
        first = _start(client, [_line("slow", _chat(words, model="slow", max_tokens=500))])
        with pytest.raises(openai.RateLimitError, match="max_open_batches_per_key"):
            _start(client, [_line("a", _chat("x"))])
        bob = _client(url, "key-bob")  # the limit is per key
        bobs = _start(bob, [_line("a", _chat("x"))])
        client.batches.cancel(first.id)
        assert _wait(client, first.id).status == "cancelled"
        assert _wait(bob, bobs.id).status == "completed"
        _wait(client, _start(client, [_line("a", _chat("x"))]).id)


def test_cancel_keeps_finished_results_and_stops_running_lines(
    echo_plugin: EchoPlugin, base_url: str
) -> None:
    client = _client(base_url)
    words = " ".join(f"w{i}" for i in range(6))  # 0.3 s a line on "slow"
    lines = [_line(f"r{i}", _chat(words, model="slow")) for i in range(40)]
    batch = _start(client, lines)
    deadline = time.monotonic() + 20
    while client.batches.retrieve(batch.id).request_counts.completed < 2:  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling"
    assert cancelling.cancelling_at is not None
    done = _wait(client, batch.id)
    assert done.status == "cancelled" and done.cancelled_at is not None
    output = _lines_of(client, done.output_file_id)
    finished = [o["custom_id"] for o in output]
    assert len(finished) >= 2
    assert finished == [f"r{i}" for i in range(len(finished))]
    assert all(o["response"]["body"]["choices"][0]["message"]["content"] == words for o in output)
    errors = _lines_of(client, done.error_file_id)
    assert {e["error"]["code"] for e in errors} == {"batch_cancelled"}
    assert sorted([*finished, *(e["custom_id"] for e in errors)]) == sorted(
        f"r{i}" for i in range(40)
    )
    time.sleep(0.5)
    started = len(echo_plugin.started)
    time.sleep(0.5)
    assert len(echo_plugin.started) == started  # nothing runs for it any more
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(_wait(client, _start(client, [_line("a", _chat("x"))]).id).id)


def test_an_interactive_request_goes_before_queued_batch_lines(
    echo_plugin: EchoPlugin, tmp_path: Path
) -> None:
    with make_server(echo_plugin, _config(tmp_path, batch_lines_in_flight=1)) as url:
        client = _client(url)
        words = " ".join(f"w{i}" for i in range(10))  # 0.5 s a line
        batch = _start(client, [_line(f"r{i}", _chat(words, model="slow")) for i in range(8)])
        _wait(client, batch.id, {"in_progress"})
        deadline = time.monotonic() + 10
        while not echo_plugin.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        began = time.monotonic()
        answer = client.chat.completions.create(
            model="slow",
            messages=[{"role": "user", "content": "interactive"}],
            extra_headers={"x-request-id": "interactive-1"},
        )
        took = time.monotonic() - began
        assert answer.choices[0].message.content == "interactive"
        # the line running when it came gave way (cut short, to run again) instead of
        # finishing first, and no other line started before it
        position = echo_plugin.started.index("interactive-1")
        assert echo_plugin.cancelled[:1] == [echo_plugin.started[position - 1]]
        assert took < 0.5, took
        _metrics_show(client, url, 'multai_batch_lines_total{outcome="preempted"} 1.0')
        done = _wait(client, batch.id)
        assert done.status == "completed"
        assert [o["custom_id"] for o in _lines_of(client, done.output_file_id)] == [
            f"r{i}" for i in range(8)
        ]


SERVE = """
import sys
from multai_core.config import ApiKeyEntry, Config, ServerConfig
from multai_core.plugin_api.types import ModelSpec
from multai_core.plugins import make_plugin_manager
from multai_core.server import runner
from multai_core.server.app import create_app
from tests.echo_plugin import EchoPlugin

data_dir, port = sys.argv[1], int(sys.argv[2])
plugin = EchoPlugin(
    [ModelSpec(name="slow", backend="echo", options={"token_delay": 0.05, "slots": 2})]
)
pm = make_plugin_manager(load_entry_points=False)
pm.register(plugin, name="echo")
keys = [ApiKeyEntry(name="owner", key="sk-owner")]
config = Config(server=ServerConfig(data_dir=data_dir, api_keys=keys, batch_lines_in_flight=2))
runner.build_server(create_app(config, pm), host="127.0.0.1", port=port).run()
"""


@contextlib.contextmanager
def _process(data_dir: Path) -> Iterator[tuple[OpenAI, subprocess.Popen[bytes], str]]:
    port = free_port()
    command = [sys.executable, "-c", SERVE, str(data_dir), str(port)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, timeout=60, process=process)
        yield (
            OpenAI(base_url=f"{base_url}/v1", api_key="sk-owner", max_retries=0),
            process,
            base_url,
        )
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_kill_9_mid_batch_resumes_with_every_custom_id_once(tmp_path: Path) -> None:
    words = " ".join(f"w{i}" for i in range(4))  # 0.2 s a line
    lines = [_line(f"k{i}", _chat(f"{i} {words}", model="slow")) for i in range(30)]
    with _process(tmp_path) as (client, process, _):
        batch = _start(client, lines)
        deadline = time.monotonic() + 30
        while client.batches.retrieve(batch.id).request_counts.completed < 6:  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.kill()  # SIGKILL: no shutdown, lines in flight lose their uncommitted results
        process.wait()
    with _process(tmp_path) as (client, _, base_url):
        done = _wait(client, batch.id, timeout=60)
        assert done.status == "completed"
        assert done.request_counts is not None and done.request_counts.completed == 30
        output = _lines_of(client, done.output_file_id)
        assert [o["custom_id"] for o in output] == [f"k{i}" for i in range(30)]
        for i, o in enumerate(output):
            assert o["response"]["body"]["choices"][0]["message"]["content"] == f"{i} {words}"
        _metrics_show(client, base_url, 'multai_batches{status="completed"} 1.0')


def test_metrics_count_lines_and_batches(base_url: str) -> None:
    client = _client(base_url)
    _wait(client, _start(client, [_line("a", _chat("x")), _line("b", _chat("too long"))]).id)
    text = _metrics_show(client, base_url, 'multai_batches{status="completed"} 1.0')
    assert 'multai_batch_lines_total{outcome="done"} 1.0' in text
    assert 'multai_batch_lines_total{outcome="failed"} 1.0' in text
    assert 'multai_batches{status="completed"} 1.0' in text
    assert "multai_batch_lines_queued 0.0" in text


def test_a_batch_past_its_window_ends_expired_with_its_finished_results(
    echo_plugin: EchoPlugin, tmp_path: Path
) -> None:
    with make_server(echo_plugin, _config(tmp_path, batch_lines_in_flight=1)) as url:
        client = _client(url)
        words = " ".join(f"w{i}" for i in range(4))  # 0.2 s a line
        batch = _start(client, [_line(f"r{i}", _chat(words, model="slow")) for i in range(30)])
        deadline = time.monotonic() + 20
        while client.batches.retrieve(batch.id).request_counts.completed < 2:  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        store = BatchStore(tmp_path)  # the window is 24 h: move its end to now instead
        stored = store.get(batch.id)
        assert stored is not None
        stored.batch.expires_at = int(time.time()) - 1
        assert store.save(stored.batch, was="in_progress")
        store.close()
        done = _wait(client, batch.id)
        assert done.status == "expired" and done.expired_at is not None
        finished = [o["custom_id"] for o in _lines_of(client, done.output_file_id)]
        assert len(finished) >= 2 and finished == [f"r{i}" for i in range(len(finished))]
        errors = _lines_of(client, done.error_file_id)
        assert {e["error"]["code"] for e in errors} == {"batch_expired"}
        assert len(finished) + len(errors) == 30


def test_the_store_keeps_a_lines_first_result_only(tmp_path: Path) -> None:
    store = BatchStore(tmp_path)
    batch = StoredBatchObject(
        id="batch_1",
        object="batch",
        endpoint="/v1/chat/completions",
        input_file_id="file-1",
        completion_window="24h",
        status="validating",
        created_at=1,
        request_counts=RequestCounts(),
    )
    store.create("alice", Principal(id="alice"), batch)
    batch.status = "in_progress"
    lines = [PendingLine(line=i, custom_id=f"c{i}", body=b"{}") for i in range(3)]
    assert store.begin_lines(batch, lines)
    assert not store.begin_lines(batch, lines)  # no longer validating: nothing is replaced
    assert [p.line for p in store.pending("batch_1", exclude={0}, limit=5)] == [1, 2]
    assert store.finish_line("batch_1", 1, "done", b'{"first": true}')
    assert not store.finish_line("batch_1", 1, "failed", b'{"second": true}')
    store.close()
    reopened = BatchStore(tmp_path)  # what a new process reads
    assert reopened.lines("batch_1")[1] == (1, "c1", "done", b'{"first": true}')
    counts = reopened.counts("batch_1")
    assert (counts.total, counts.completed, counts.failed) == (3, 1, 0)
    assert reopened.open_count("alice") == 1 and reopened.open_count("bob") == 0
    assert oct(os.stat(tmp_path / "batches.sqlite3").st_mode & 0o777) == "0o600"


# -- aging: a steady interactive load does not starve a batch --------------------------------


@dataclass
class _Load:
    done: int = 0  # interactive answers received
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def _steady_load(base_url: str, model: str, clients: int = 2) -> Iterator[_Load]:
    """Interactive chats in a loop from ``clients`` threads: with two, one is always queued or
    running (each sends its next request as soon as its answer is in)."""
    load, stop = _Load(), threading.Event()

    def loop(number: int) -> None:
        client = _client(base_url)
        sent = 0
        while not stop.is_set():
            sent += 1
            try:
                answer = client.chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": "a b c d"}],  # 0.2 s
                    extra_headers={"x-request-id": f"load-{number}-{sent}"},
                )
            except openai.APIError as exc:
                with load.lock:
                    load.errors.append(f"{type(exc).__name__}: {exc}")
                return
            with load.lock:
                load.done += 1
                if answer.choices[0].message.content != "a b c d":
                    load.errors.append(f"wrong answer {answer.choices[0].message.content!r}")

    threads = [threading.Thread(target=loop, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    try:
        _until(lambda: load.done >= 3 or bool(load.errors), timeout=30)  # the load is steady
        yield load
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not load.errors, load.errors


def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _lines_counted(client: OpenAI, base_url: str, outcome: str) -> float:
    text = str(client.with_options(base_url=base_url).get("/metrics", cast_to=str))
    prefix = f'multai_batch_lines_total{{outcome="{outcome}"}} '
    found = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(found[0].removeprefix(prefix)) if found else 0.0


def _completed(client: OpenAI, batch_id: str) -> int:
    counts = client.batches.retrieve(batch_id).request_counts
    assert counts is not None
    return counts.completed


@pytest.fixture
def two_slots() -> EchoPlugin:
    """One model with two slots, so interactive work and one batch line can run side by side."""
    return EchoPlugin(
        [ModelSpec(name="pair", backend="echo", options={"token_delay": 0.05, "slots": 2})]
    )


def _aged(data_dir: Path, aging_s: float | None, **server: object) -> Config:
    config = _config(data_dir, **server)
    if aging_s is not None:
        config.scheduler = SchedulerConfig(aging_s_priority_2=aging_s)
    return config


def test_a_starved_batch_completes_under_steady_interactive_load(
    two_slots: EchoPlugin, tmp_path: Path
) -> None:
    with make_server(two_slots, _aged(tmp_path, 1.0, batch_lines_in_flight=2)) as url:
        client = _client(url)
        with _steady_load(url, "pair") as load:
            lines = [_line(f"r{i}", _chat(f"line {i}", model="pair")) for i in range(4)]
            batch = _start(client, lines)
            done = _wait(client, batch.id, timeout=120)
            during = load.done
        assert done.status == "completed"
        assert [o["custom_id"] for o in _lines_of(client, done.output_file_id)] == [
            f"r{i}" for i in range(4)
        ]
        assert during >= 6  # the interactive load went on while the batch ran
        assert _lines_counted(client, url, "protected") >= 1


def test_with_the_default_aging_a_steady_load_holds_a_batch_back(
    two_slots: EchoPlugin, tmp_path: Path
) -> None:
    with make_server(two_slots, _aged(tmp_path, None, batch_lines_in_flight=2)) as url:
        client = _client(url)
        lines = [_line(f"r{i}", _chat(f"line {i}", model="pair")) for i in range(3)]
        with _steady_load(url, "pair") as load:
            batch = _start(client, lines)
            _wait(client, batch.id, {"in_progress"})
            seen = load.done
            _until(lambda: load.done >= seen + 15, timeout=120)  # 15 interactive answers
            assert _completed(client, batch.id) == 0
            assert _lines_counted(client, url, "protected") == 0
        done = _wait(client, batch.id, timeout=60)  # once the load stops, it runs
        assert done.status == "completed"
        assert _completed(client, batch.id) == 3


def test_a_protected_line_is_not_preempted_by_interactive_arrivals(
    two_slots: EchoPlugin, tmp_path: Path
) -> None:
    with make_server(two_slots, _aged(tmp_path, 1.0, batch_lines_in_flight=1)) as url:
        client = _client(url)
        words = " ".join(f"w{i}" for i in range(40))  # 2 s
        with _steady_load(url, "pair") as load:
            batch = _start(client, [_line("long", _chat(words, model="pair"))])
            _until(lambda: _lines_counted(client, url, "protected") >= 1, timeout=60)
            preempted, seen = _lines_counted(client, url, "preempted"), load.done
            done = _wait(client, batch.id, timeout=60)
            arrived = load.done - seen
        assert done.status == "completed"
        assert arrived >= 3, arrived  # interactive requests came while the line ran
        assert _lines_counted(client, url, "preempted") == preempted
        assert _lines_counted(client, url, "protected") == 1  # it ran once, to the end
        output = _lines_of(client, done.output_file_id)
        assert output[0]["response"]["body"]["choices"][0]["message"]["content"] == words


def test_a_line_cut_short_twice_runs_protected_the_third_time(
    two_slots: EchoPlugin, tmp_path: Path
) -> None:
    with make_server(two_slots, _aged(tmp_path, None, batch_lines_in_flight=1)) as url:
        client = _client(url)
        words = " ".join(f"w{i}" for i in range(40))  # 2 s
        batch = _start(client, [_line("long", _chat(words, model="pair"))])

        def runs() -> int:  # how often the batch line began (interactive ids start with i-)
            with two_slots.lock:
                return sum(not task.startswith("i-") for task in two_slots.started)

        for cut in range(3):
            _until(lambda began=cut + 1: runs() == began, timeout=30)
            client.chat.completions.create(
                model="pair",
                messages=[{"role": "user", "content": "a b"}],
                extra_headers={"x-request-id": f"i-{cut}"},
            )
            expected = min(cut + 1, 2)  # the third arrival finds the line protected
            _until(lambda n=expected: _lines_counted(client, url, "preempted") == n, timeout=30)
        done = _wait(client, batch.id)
        assert done.status == "completed"
        assert runs() == 3
        assert _lines_counted(client, url, "preempted") == 2
        assert _lines_counted(client, url, "protected") == 1
        output = _lines_of(client, done.output_file_id)
        assert output[0]["response"]["body"]["choices"][0]["message"]["content"] == words
