"""The Files API through the openai SDK: upload, retrieve, content, list and delete; a batch
input file checked line by line at upload; another key's 404; limits; a restart; disk modes."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from multai_core.config import Config, ServerConfig
from multai_core.testing.openai_spec import validate
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin

KEYS = ["key-alice", "key-bob"]


def _config(data_dir: Path, **server: object) -> Config:
    return Config(server=ServerConfig(api_keys=list(KEYS), data_dir=str(data_dir), **server))  # type: ignore[arg-type]


def _client(base_url: str, key: str = KEYS[0]) -> OpenAI:
    return OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)


def _request(custom_id: str, **fields: Any) -> str:
    line = {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "echo", "messages": [{"role": "user", "content": "hi"}]},
    }
    return json.dumps({**line, **fields})


def _jsonl(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _plain(model: object) -> object:
    return model.model_dump(mode="json", exclude_unset=True)  # type: ignore[attr-defined]


@pytest.fixture
def files_server(echo_plugin: EchoPlugin, tmp_path: Path) -> Iterator[str]:
    with make_server(echo_plugin, _config(tmp_path, max_batch_lines=3)) as base_url:
        yield base_url


def test_round_trip(files_server: str, tmp_path: Path) -> None:
    client = _client(files_server)
    data = _jsonl(_request("a"), "", _request("b"))
    made = client.files.create(file=("requests.jsonl", data), purpose="batch")
    assert made.id.startswith("file-") and made.object == "file"
    assert (made.bytes, made.filename, made.purpose) == (len(data), "requests.jsonl", "batch")
    assert made.status == "processed"
    validate("OpenAIFile", _plain(made))
    assert client.files.retrieve(made.id) == made
    assert client.files.content(made.id).content == data
    raw = httpx.get(
        f"{files_server}/v1/files/{made.id}/content", headers={"authorization": f"Bearer {KEYS[0]}"}
    )
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-disposition"] == "attachment; filename*=UTF-8''requests.jsonl"
    listed = client.files.list()
    validate("ListFilesResponse", _plain(listed))
    assert [f.id for f in listed.data] == [made.id]
    # any bytes for user_data: only batch files are read as requests
    other = client.files.create(file=("notes.bin", b"\x00\xff not jsonl"), purpose="user_data")
    assert client.files.content(other.id).content == b"\x00\xff not jsonl"
    deleted = client.files.delete(made.id)
    assert (deleted.id, deleted.deleted) == (made.id, True)
    validate("DeleteFileResponse", _plain(deleted))
    for gone in (client.files.retrieve, client.files.content, client.files.delete):
        with pytest.raises(openai.NotFoundError, match=f"No such File object: {made.id}"):
            gone(made.id)
    assert [f.id for f in client.files.list().data] == [other.id]
    assert not (tmp_path / "files" / made.id).exists()


def test_another_key_sees_404(files_server: str) -> None:
    alice, bob = _client(files_server), _client(files_server, KEYS[1])
    made = alice.files.create(file=("r.jsonl", _jsonl(_request("a"))), purpose="batch")
    for route in (bob.files.retrieve, bob.files.content, bob.files.delete):
        with pytest.raises(openai.NotFoundError) as caught:
            route(made.id)
        assert caught.value.body == {  # the same answer as for a file that does not exist
            "message": f"No such File object: {made.id}",
            "type": "invalid_request_error",
            "param": "file_id",
            "code": None,
        }
    assert bob.files.list().data == []
    with pytest.raises(openai.BadRequestError, match="after"):
        bob.files.list(after=made.id)
    assert alice.files.content(made.id).content == _jsonl(_request("a"))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ((_request("a"), "{not json"), "line 2: not valid UTF-8 JSON"),
        ((_request("a"), '["a"]'), "line 2: a JSON array, not an object"),
        (
            (json.dumps({"method": "POST", "url": "/v1/embeddings", "body": {"model": "m"}}),),
            "line 1: custom_id is missing; give each request a unique string custom_id",
        ),
        (
            (_request("a"), "", _request("b"), _request("a")),
            "line 4: custom_id 'a' is used by an earlier line; custom_id must be unique",
        ),
        (
            (_request("a", url="/v1/images/generations"),),
            "line 1: url must be one of /v1/chat/completions, /v1/completions, /v1/embeddings, "
            "/v1/responses, not '/v1/images/generations'",
        ),
        ((_request("a", method="GET"),), 'line 1: method must be "POST"'),
        ((_request("a", body={"messages": []}),), "line 1: body.model must name the model"),
        ((_request("a", body=[1]),), "line 1: body must be a JSON object"),
        (
            (_request("a", body={"model": "echo", "stream": True}),),
            "line 1: body.stream must be false or left out",
        ),
        (
            tuple(_request(str(i)) for i in range(4)),
            r"line 4: the file has more than 3 requests, the most one batch may hold "
            r"\(\[server\] max_batch_lines\); split it",
        ),
        (("", "  "), "The batch input file has no requests"),
    ],
)
def test_bad_batch_file_is_a_400_naming_the_line(
    files_server: str, lines: tuple[str, ...], expected: str
) -> None:
    client = _client(files_server)
    with pytest.raises(openai.BadRequestError, match=expected) as caught:
        client.files.create(file=("r.jsonl", _jsonl(*lines)), purpose="batch")
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == "file"  # type: ignore[index]
    assert client.files.list().data == []  # nothing was stored


def test_too_large_is_a_413_naming_the_setting(echo_plugin: EchoPlugin, tmp_path: Path) -> None:
    with make_server(echo_plugin, _config(tmp_path, max_file_bytes=1000)) as base_url:
        client = _client(base_url)
        small = client.files.create(file=("ok.bin", b"x" * 1000), purpose="user_data")
        assert small.bytes == 1000
        with pytest.raises(openai.APIStatusError, match=r"max_file_bytes") as caught:
            client.files.create(file=("big.bin", b"x" * 5000), purpose="user_data")
        assert caught.value.status_code == 413
        # sent without a Content-Length, the file part is cut off once it passes the limit
        boundary = "b0undary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
            f"--{boundary}\r\nContent-Disposition: form-data; "
            'name="file"; filename="big.jsonl"\r\n\r\n'
        ).encode()

        def chunks() -> Iterator[bytes]:
            yield head
            for _ in range(100):
                yield b"y" * 100

        r = httpx.post(
            f"{base_url}/v1/files",
            content=chunks(),
            headers={
                "authorization": f"Bearer {KEYS[0]}",
                "content-type": f"multipart/form-data; boundary={boundary}",
            },
        )
        assert r.status_code == 413, r.text
        assert "[server] max_file_bytes" in r.json()["error"]["message"]
        assert [f.id for f in client.files.list().data] == [small.id]


def test_bad_form_is_a_400(files_server: str) -> None:
    client = _client(files_server)
    with pytest.raises(openai.BadRequestError, match="purpose 'fine-tune' is not served here"):
        client.files.create(file=("r.jsonl", _jsonl(_request("a"))), purpose="fine-tune")
    auth = {"authorization": f"Bearer {KEYS[0]}"}
    url = f"{files_server}/v1/files"
    r = httpx.post(url, headers=auth, files={"file": ("r.jsonl", b"x")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "purpose"
    r = httpx.post(url, headers=auth, data={"purpose": "batch"}, files={"other": ("a", b"")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "file"
    r = httpx.post(url, headers=auth, json={"purpose": "batch"})
    assert r.status_code == 400 and "multipart/form-data" in r.json()["error"]["message"]
    r = httpx.get(url, headers=auth, params={"limit": 0})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.get(url, headers=auth, params={"order": "sideways"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert httpx.get(url).status_code == 401


def test_list_pages_and_filters(files_server: str) -> None:
    client = _client(files_server)
    made = [
        client.files.create(
            file=(f"{i}.jsonl", _jsonl(_request(str(i)))),
            purpose="batch" if i % 2 else "user_data",
        ).id
        for i in range(5)
    ]
    first = client.files.list(limit=2)
    assert [f.id for f in first.data] == made[:2:-1][:2] == [made[4], made[3]]
    assert first.has_more is True
    assert (first.first_id, first.last_id) == (made[4], made[3])  # type: ignore[attr-defined]
    # the SDK follows `after` from page to page until has_more is false
    assert [f.id for f in client.files.list(limit=2)] == made[::-1]
    assert [f.id for f in client.files.list(limit=2, order="asc")] == made
    last = client.files.list(limit=2, order="asc", after=made[2])
    assert [f.id for f in last.data] == made[3:] and last.has_more is False
    assert [f.id for f in client.files.list(purpose="batch", order="asc")] == made[1::2]
    assert [f.id for f in client.files.list(purpose="batch_output")] == []


def test_a_file_survives_a_restart_and_is_0600(echo_plugin: EchoPlugin, tmp_path: Path) -> None:
    data = _jsonl(_request("a"), _request("b"))
    with make_server(echo_plugin, _config(tmp_path)) as base_url:
        made = _client(base_url).files.create(file=("r.jsonl", data), purpose="batch")
    on_disk = tmp_path / "files" / made.id
    assert stat.S_IMODE(on_disk.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "files.sqlite3").stat().st_mode) == 0o600
    assert on_disk.read_bytes() == data
    # what a crash left: a half-written file, and a file whose row was never committed; one
    # just written may be another process's upload in progress, so it stays
    two_hours_ago = time.time() - 7200
    crashed = [tmp_path / "files" / "file-0.part", tmp_path / "files" / "file-1"]
    for leftover in crashed:
        leftover.write_bytes(b"x")
        os.utime(leftover, (two_hours_ago, two_hours_ago))
    in_progress = tmp_path / "files" / "file-2.part"
    in_progress.write_bytes(b"x")
    with make_server(echo_plugin, _config(tmp_path)) as base_url:
        client = _client(base_url)
        assert client.files.retrieve(made.id) == made
        assert client.files.content(made.id).content == data
        assert [f.id for f in client.files.list()] == [made.id]
    assert not any(leftover.exists() for leftover in crashed)
    assert in_progress.exists() and on_disk.exists()


def test_windows_line_ends_and_a_bom_are_accepted(files_server: str) -> None:
    client = _client(files_server)
    data = ("\ufeff" + _request("a") + "\r\n" + _request("b") + "\r\n").encode()
    made = client.files.create(file=("r.jsonl", data), purpose="batch")
    assert client.files.content(made.id).content == data  # kept as sent


def test_options_lists_every_method_of_a_path(files_server: str) -> None:
    auth = {"authorization": f"Bearer {KEYS[0]}"}
    listing = httpx.options(f"{files_server}/v1/files", headers=auth)
    one = httpx.options(f"{files_server}/v1/files/file-x", headers=auth)
    assert listing.headers["allow"] == "GET, OPTIONS, POST"
    assert one.headers["allow"] == "DELETE, GET, OPTIONS"
