"""The exception handler of the Anthropic paths: every error the server would answer (a bad
body, a missing key, a full queue, a failed plugin) in Anthropic's shape and status."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.openapi.datastructures import ResponseSpec

from multai_core.protocol.anthropic import ErrorResponse
from multai_core.server.errors import handle_exception
from multai_core.serving.messages_errors import anthropic_error


def handle_anthropic(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """The server's own answer (handle_exception: its logging and its messages), re-shaped."""
    answer = handle_exception(request, exc)
    error = answer.content["error"] if isinstance(answer.content, dict) else {}
    detail: dict[str, Any] = error if isinstance(error, dict) else {}
    status, body = anthropic_error(
        answer.status_code or 500,
        detail.get("code"),
        str(detail.get("message") or "The request failed."),
    )
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


ANTHROPIC_PATH = "/v1/messages"


def handle_by_path(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The app's handler: errors raised before a route is found (an unknown path, a wrong
    method) reach it rather than the Messages controller's, so it answers those under
    /v1/messages in Anthropic's shape too, and every other path in OpenAI's."""
    path = request.url.path.rstrip("/")
    if path == ANTHROPIC_PATH or path.startswith(ANTHROPIC_PATH + "/"):
        return handle_anthropic(request, exc)
    return handle_exception(request, exc)


ERROR_STATUSES = {
    400: "invalid_request_error: bad JSON, a wrong type or value, input the model cannot take",
    401: "authentication_error: missing or wrong credentials",
    403: "permission_error: the caller's key does not allow this priority",
    404: "not_found_error: unknown model, or one the caller's key may not use",
    413: "request_too_large: body or image over its limit",
    429: "rate_limit_error: the server's decoding budget is taken; retry after Retry-After",
    500: "api_error: a plugin failed during inference; the server keeps serving",
    503: "overloaded_error: model failed to load, does not fit, waited too long, or shutdown",
    529: "overloaded_error: the queue is full; retry after Retry-After",
}


def error_responses() -> dict[int, ResponseSpec]:
    """The OpenAPI document's errors for these paths, in Anthropic's shape (they replace the
    OpenAI-shaped ones document_errors adds to every other route)."""
    return {
        status: ResponseSpec(
            data_container=ErrorResponse, description=text, generate_examples=False
        )
        for status, text in ERROR_STATUSES.items()
    }
