"""Every error leaves the server in OpenAI's shape: {"error": {message, type, param, code}}."""

from __future__ import annotations

import re
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from multai_core.config import MiB
from multai_core.plugin_api.errors import (
    AuthenticationFailed,
    InvalidRequest,
    MultaiError,
    RequestTooLarge,
    where,
)

log = structlog.get_logger(__name__)
_MISSING = re.compile(r"missing required field `([A-Za-z0-9_]+)`")


def error_response(exc: MultaiError) -> Response[dict[str, object]]:
    headers = {**exc.headers, "x-should-retry": "true" if exc.should_retry else "false"}
    if exc.retry_after is not None:
        headers["retry-after"] = str(int(max(1, round(exc.retry_after))))
    return Response(exc.body(), status_code=exc.status_code, headers=headers)


def _from_validation(exc: ValidationException) -> MultaiError:
    problems = exc.extra if isinstance(exc.extra, list) else []
    for problem in problems:
        if not isinstance(problem, dict) or problem.get("source") != "body":
            continue
        message = str(problem.get("message", ""))
        if message in ("", "'data'"):
            return InvalidRequest("The request body is empty; send a JSON object.")
        key = str(problem.get("key") or "")
        match = _MISSING.search(message)
        if key and key != "data":
            return InvalidRequest(f"Invalid request body: {message} - at `$.{key}`", param=key)
        return InvalidRequest(
            f"Invalid request body: {message}", param=match.group(1) if match else None
        )
    detail = exc.detail or "Invalid request."
    return InvalidRequest(detail if "JSON" in detail else f"Invalid request: {detail}")


def _too_large(limit: int | None) -> RequestTooLarge:
    if limit is None:  # not Litestar's limit: a route that enforces its own names it
        return RequestTooLarge("The request body is larger than this server accepts.")
    size = f"{limit / MiB:g} MiB ({limit} bytes)" if limit >= MiB else f"{limit} bytes"
    return RequestTooLarge(
        f"The request body is larger than this server accepts: at most {size}; "
        "the limit is [server].max_body_bytes."
    )


def _from_http(exc: HTTPException, request: Request[Any, Any, Any]) -> MultaiError:
    status = exc.status_code
    if status == 413:  # raised by Litestar only, on a route that has a limit
        return _too_large(request.route_handler.resolve_request_max_body_size())
    if status == 401:
        return AuthenticationFailed(exc.detail)
    if status == 404:
        error = MultaiError("Not found: no such endpoint on this server.", code="not_found")
    elif status == 405:
        allow = (exc.headers or {}).get("allow", "")
        error = MultaiError(
            f"Method not allowed on this endpoint; it allows: {allow or 'none'}.",
            code="method_not_allowed",
            headers={"allow": allow} if allow else None,
        )
    else:
        error = MultaiError(exc.detail or "Request failed.")
    error.status_code = status
    error.type = "invalid_request_error" if status < 500 else "server_error"
    return error


def handle_exception(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, object]]:
    if isinstance(exc, MultaiError):
        return error_response(exc)
    if isinstance(exc, ValidationException):
        return error_response(_from_validation(exc))
    if isinstance(exc, HTTPException):
        return error_response(_from_http(exc, request))
    if isinstance(exc, RecursionError):  # msgspec decoding a hostile, deeply nested body
        return error_response(InvalidRequest("The request body is nested too deeply."))
    if isinstance(exc, UnicodeDecodeError):
        return error_response(InvalidRequest("The request body is not valid UTF-8."))
    # type and place only: a message or a traceback's locals could hold request content
    log.error("unhandled_error", path=request.url.path, error=type(exc).__name__, where=where(exc))
    return error_response(MultaiError("The server had an error while processing the request."))
