"""Request ids: the client's X-Request-Id where it is sane, else a fresh UUID; echoed back in
the x-request-id response header and used in logs and response ids."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = structlog.get_logger("multai.access")
# set in scope["state"] by the HTTP protocol when it answered for the app (a 408 on a stalled body)
CLOSED_WITH = "multai.closed_with"
# logged for a client that left before its response was complete (nginx's convention)
CLIENT_CLOSED = 499


def request_id_of(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _VALID.match(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0
        complete = False
        left = False

        async def receive_noting_disconnect() -> ReceiveMessage:
            nonlocal left
            message = await receive()
            if message["type"] == "http.disconnect" and not complete:
                left = True
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, complete
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive_noting_disconnect, send_with_id)
        finally:
            closed_with = scope["state"].get(CLOSED_WITH)
            log.info(
                "request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=closed_with or (CLIENT_CLOSED if left else status),
                request_id=request_id,
                seconds=round(time.perf_counter() - started, 4),
            )
