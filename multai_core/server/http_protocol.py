"""The HTTP/1.1 protocol MultAI serves with: uvicorn's h11 protocol plus the limits a public
server needs against slow or hostile clients.

Why uvicorn with a protocol subclass, not another server: uvicorn is already the dependency,
its h11 protocol is small and pure Python, and `uvicorn.Config(http=...)` takes a protocol
class, so the few missing pieces sit in one place and every other behaviour (TLS, lifespan,
flow control, ASGI) stays uvicorn's. Uvicorn's own settings do not cover them: its keep-alive
timeout starts only after a response, `limit_concurrency` answers in plain text, and it has no
header or body timeouts. Hypercorn has read and keep-alive timeouts but no header deadline and
plain-text errors; granian's errors come from Rust code that cannot answer in OpenAI's shape.

What this adds:
- a header deadline: from connecting (or the last response) to a complete request head;
  a connection that sent nothing is closed, one that sent part of a head gets a 408;
- an idle timeout from connecting as well as after each response;
- a body deadline: the longest wait for the next bytes of a body (408 while a response is
  still possible, else the connection is closed);
- a cap on open connections (a 503 for each connection beyond it);
- OpenAI-shaped JSON for every error the HTTP layer answers itself (400, 408, 431, 503)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import h11
import msgspec
import structlog
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from multai_core.config import ServerConfig
from multai_core.plugin_api.errors import MultaiError
from multai_core.server import http_errors
from multai_core.server.request_id import CLOSED_WITH

log = structlog.get_logger("multai.http")


class ConnectionLimits(msgspec.Struct, frozen=True, kw_only=True):
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_timeout_s: float = 5.0
    max_connections: int = 1000

    @classmethod
    def of(cls, server: ServerConfig) -> ConnectionLimits:
        return cls(
            header_timeout_s=server.header_timeout_s,
            body_timeout_s=server.body_timeout_s,
            keep_alive_timeout_s=server.keep_alive_timeout_s,
            max_connections=server.max_connections,
        )


class _Connection(h11.Connection):
    """h11's connection, remembering why the client's bytes were rejected (400 or 431)."""

    status_hint = 400

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.status_hint = exc.error_status_hint
            raise


class _Timer:
    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def arm(self, seconds: float) -> None:
        self.cancel()
        self._handle = self._loop.call_later(seconds, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._callback()


class MultaiH11Protocol(H11Protocol):
    limits = ConnectionLimits()

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn = _Connection(h11.SERVER, http_errors.MAX_HEADER_BYTES)
        # uvicorn's keep-alive timer, in seconds; it types them as int
        self.timeout_keep_alive = self.limits.keep_alive_timeout_s  # type: ignore[assignment]
        self._header_timer = _Timer(self.loop, self._header_timed_out)
        self._body_timer = _Timer(self.loop, self._body_timed_out)
        self.app = self._cut_quietly(self.app)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            # answered once its request head is in (bounded by the header deadline)
            self.app = _error_app(http_errors.too_many_connections(self.limits.max_connections))
            log.warning("too_many_connections", limit=self.limits.max_connections)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )
        self._header_timer.arm(self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._header_timer.cancel()
        self._body_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track_phase()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._track_phase()

    def _track_phase(self) -> None:
        """Keep the header deadline running while a head is awaited and the body deadline
        running (restarted by each read) while a body is."""
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if not self._header_timer.armed:
                self._header_timer.arm(self.limits.header_timeout_s)
        else:
            self._header_timer.cancel()
        if state is h11.SEND_BODY:
            self._body_timer.arm(self.limits.body_timeout_s)
        else:
            self._body_timer.cancel()

    def _header_timed_out(self) -> None:
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        received, _ = self.conn.trailing_data
        if received:
            log.info("header_timeout", seconds=self.limits.header_timeout_s)
            self._answer_and_close(http_errors.header_timeout(self.limits.header_timeout_s))
        else:  # a quiet connection: nothing to answer
            self._close()

    def _body_timed_out(self) -> None:
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        if self.flow.read_paused:  # we stopped reading, not the client stopped sending
            self._body_timer.arm(self.limits.body_timeout_s)
            return
        log.info("body_timeout", seconds=self.limits.body_timeout_s)
        self._answer_and_close(http_errors.body_timeout(self.limits.body_timeout_s))

    def send_400_response(self, msg: str) -> None:  # noqa: ARG002 (uvicorn's plain text)
        """uvicorn calls this when h11 rejects the client's bytes: framing or head size."""
        hint = self.conn.status_hint if isinstance(self.conn, _Connection) else 400
        self._answer_and_close(http_errors.bad_framing(hint))

    def _answer_and_close(self, exc: MultaiError) -> None:
        """Answer with ``exc`` unless a response has begun, end the app's request (it reads a
        disconnect from now on) and close."""
        ours = self.conn.our_state
        cycle = None if ours is h11.IDLE else self.cycle  # IDLE: no request under way
        if ours is h11.IDLE or ours is h11.SEND_RESPONSE:
            self.transport.write(http_errors.raw_response(exc))
            if cycle is not None:
                cycle.scope["state"][CLOSED_WITH] = exc.status_code
        if cycle is not None:
            cycle.response_started = cycle.response_complete = True
            cycle.disconnected = True
            cycle.message_event.set()
        self._close()

    def _cut_quietly(self, app: Any) -> Any:
        """uvicorn cancels the requests still open when its graceful timeout ends (after the
        shutdown drain; see runner) and would log each with a traceback: close them instead."""

        async def run(scope: Any, receive: Any, send: Any) -> None:
            try:
                await app(scope, receive, send)
            except asyncio.CancelledError:
                log.warning("request_cut_at_shutdown", path=scope.get("path"))
                if self.cycle is not None:
                    self.cycle.disconnected = True
                self._close()

        return run

    def _close(self) -> None:
        self._header_timer.cancel()
        self._body_timer.cancel()
        self._unset_keepalive_if_required()
        self.transport.close()


def _error_app(exc: MultaiError) -> Any:
    body = http_errors.error_body(exc)
    headers = http_errors.error_headers(exc, len(body))

    async def app(_scope: Any, _receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def protocol_class(limits: ConnectionLimits) -> type[MultaiH11Protocol]:
    """The protocol class to hand uvicorn (`http=`), with these limits."""
    return type("MultaiH11Protocol", (MultaiH11Protocol,), {"limits": limits})
