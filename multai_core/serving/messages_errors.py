"""MultAI's errors in Anthropic's shape: {"type": "error", "error": {"type", "message"}}, with
the status and error type Anthropic documents for each kind of failure."""

from __future__ import annotations

from multai_core.plugin_api.errors import MultaiError
from multai_core.protocol.anthropic import ErrorDetail, ErrorResponse, ErrorType

OVERLOADED = 529  # Anthropic's status for "the API is temporarily overloaded"

_BY_STATUS: dict[int, ErrorType] = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}


def anthropic_error(status: int, code: str | None, message: str) -> tuple[int, ErrorResponse]:
    """The status and body Anthropic would answer for an error MultAI answers with
    ``status`` and ``code``. A full queue is Anthropic's 529 overloaded_error (its SDK retries
    it); other statuses keep their number."""
    kind: ErrorType
    if status == 429 and code == "queue_full":
        status, kind = OVERLOADED, "overloaded_error"
    elif status in _BY_STATUS:
        kind = _BY_STATUS[status]
    else:
        kind = "invalid_request_error" if status < 500 else "api_error"
    return status, ErrorResponse(error=ErrorDetail(type=kind, message=message))


def of_exception(exc: MultaiError) -> tuple[int, ErrorResponse]:
    return anthropic_error(exc.status_code, exc.code, exc.message)
