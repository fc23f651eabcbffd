"""Slow and hostile connections: idle, partial-header and stalled-body connections are closed
within the configured timeouts, connections beyond the cap get a 503, and every error the HTTP
layer answers itself is JSON in OpenAI's shape."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import structlog

from multai_core.config import Config, ServerConfig
from multai_core.testing.openai_spec import validate
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin

HEADER_S, BODY_S, IDLE_S = 1.0, 1.0, 0.5
# the bound each close is checked against: generous, far below "forever"
WITHIN_S = 10.0
CHAT = b"POST /v1/chat/completions HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    config = Config(
        server=ServerConfig(
            header_timeout_s=HEADER_S, body_timeout_s=BODY_S, keep_alive_timeout_s=IDLE_S
        )
    )
    with make_server(EchoPlugin(), config) as base_url:
        yield base_url


@contextlib.contextmanager
def connect(base_url: str) -> Iterator[socket.socket]:
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=WITHIN_S) as sock:
        yield sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; socket.timeout if it never does."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def parse(raw: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, json.loads(body)


def assert_openai_error(raw: bytes, status: int, fragment: str) -> dict[str, object]:
    got, headers, payload = parse(raw)
    assert got == status, raw
    assert headers["content-type"] == "application/json"
    validate("ErrorResponse", payload)
    error = payload["error"]
    assert isinstance(error, dict)
    assert fragment in error["message"]
    return error


def test_an_idle_connection_is_closed(server: str) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        assert read_until_closed(sock) == b""  # closed without a word: it asked nothing
        assert time.monotonic() - started < WITHIN_S


def test_an_idle_keep_alive_connection_is_closed_after_its_response(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n")
        raw = read_until_closed(sock)
        assert raw.startswith(b"HTTP/1.1 200")


def test_a_partial_header_gets_408_within_the_header_timeout(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(CHAT)  # the head never ends: slowloris
        raw = read_until_closed(sock)
    error = assert_openai_error(raw, 408, "[server].header_timeout_s")
    assert error["code"] == "request_timeout"


def test_many_partial_headers_are_all_answered_and_closed(server: str) -> None:
    """Unauthenticated slowloris connections are not held: each ends at the header timeout."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(connect(server)) for _ in range(100)]
        for sock in socks:
            sock.sendall(CHAT)
        for sock in socks:
            assert parse(read_until_closed(sock))[0] == 408


def test_a_dripping_header_is_cut_at_the_header_timeout(server: str) -> None:
    """Each byte restarts no clock: the head as a whole must arrive in time."""
    raw = b""
    with connect(server) as sock:
        sock.sendall(CHAT)
        sock.settimeout(0.2)
        started = time.monotonic()
        with contextlib.suppress(ConnectionError):  # a byte sent after the close: a reset
            while time.monotonic() - started < WITHIN_S:
                sock.sendall(b"x")
                with contextlib.suppress(TimeoutError):
                    chunk = sock.recv(65536)
                    raw += chunk
                    if not chunk:
                        break
        assert time.monotonic() - started < WITHIN_S, "the connection was never closed"
    if raw:  # unless a reset discarded it
        assert_openai_error(raw, 408, "[server].header_timeout_s")


def test_a_body_shorter_than_its_content_length_gets_408(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(CHAT + b"content-length: 100\r\n\r\n" + b'{"model": "echo"')
        raw = read_until_closed(sock)
    error = assert_openai_error(raw, 408, "[server].body_timeout_s")
    assert error["code"] == "request_timeout"


def test_a_chunk_shorter_than_its_size_gets_408(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(CHAT + b"transfer-encoding: chunked\r\n\r\n64\r\n" + b'{"model": "echo"')
        raw = read_until_closed(sock)
    assert_openai_error(raw, 408, "[server].body_timeout_s")


def test_a_stalled_body_is_logged_as_408_and_an_abort_as_499(server: str) -> None:
    with structlog.testing.capture_logs() as logs:
        with connect(server) as sock:
            sock.sendall(CHAT + b"content-length: 100\r\n\r\n{")
            read_until_closed(sock)
        with connect(server) as sock:
            sock.sendall(CHAT + b"content-length: 100\r\n\r\n{")
        # the client went away while its body was read: not a server error
        deadline = time.monotonic() + WITHIN_S
        while time.monotonic() < deadline and len(_requests(logs)) < 2:
            time.sleep(0.05)
    statuses = [line["status"] for line in _requests(logs)]
    assert statuses == [408, 499], statuses
    assert not [line for line in logs if line["log_level"] == "error"]


def _requests(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [line for line in logs if line["event"] == "request"]


@pytest.mark.parametrize(
    ("request_bytes", "status", "fragment"),
    [
        (CHAT + b"transfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400, "chunked"),
        (b"NOT HTTP AT ALL\r\n\r\n", 400, "not valid HTTP/1.1"),
        # beyond 16 KiB with no end of head in sight (a head that arrives whole is parsed)
        (CHAT + b"x-big: " + b"a" * 20_000, 431, "16 KiB"),
    ],
    ids=["malformed-chunk", "garbage", "oversized-header"],
)
def test_http_level_errors_are_openai_errors(
    server: str, request_bytes: bytes, status: int, fragment: str
) -> None:
    with connect(server) as sock:
        sock.sendall(request_bytes)
        raw = read_until_closed(sock)
    assert_openai_error(raw, status, fragment)
    assert httpx.get(f"{server}/health").status_code == 200  # and the server goes on


def test_connections_beyond_the_cap_get_503() -> None:
    config = Config(server=ServerConfig(max_connections=2, keep_alive_timeout_s=60))
    with make_server(EchoPlugin(), config) as base_url, contextlib.ExitStack() as held:
        for _ in range(2):
            held.enter_context(_served_connection(base_url))
        response = httpx.get(f"{base_url}/health")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/json"
        validate("ErrorResponse", response.json())
        assert "[server].max_connections" in response.json()["error"]["message"]
        assert response.json()["error"]["code"] == "too_many_connections"
        assert response.headers["retry-after"] == "1"
        held.close()  # connections free up: the next is served
        _wait_for_health(base_url)


@contextlib.contextmanager
def _served_connection(base_url: str) -> Iterator[socket.socket]:
    """A connection the server counts: it has answered a request on it (the server may
    still count a connection closed just before, such as the health check's)."""
    deadline = time.monotonic() + WITHIN_S
    while True:
        with connect(base_url) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n")
            if sock.recv(65536).startswith(b"HTTP/1.1 200"):
                yield sock
                return
        assert time.monotonic() < deadline, "no connection was served"
        time.sleep(0.05)


def _wait_for_health(base_url: str) -> None:
    deadline = time.monotonic() + WITHIN_S
    while httpx.get(f"{base_url}/health").status_code != 200:
        assert time.monotonic() < deadline, "closed connections were never counted out"
        time.sleep(0.05)
