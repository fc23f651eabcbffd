"""Errors with OpenAI's shape. Raise these anywhere; the server turns them into responses."""

from __future__ import annotations


class MultaiError(Exception):
    status_code = 500
    type = "server_error"
    code: str | None = None
    retry_after: float | None = None
    should_retry = False

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}
        if code is not None:
            self.code = code
        if retry_after is not None:
            self.retry_after = retry_after

    def body(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(MultaiError):
    status_code = 400
    type = "invalid_request_error"


class AuthenticationFailed(MultaiError):
    status_code = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDenied(MultaiError):
    status_code = 403
    type = "permission_error"


class ModelNotFound(MultaiError):
    status_code = 404
    type = "invalid_request_error"
    code = "model_not_found"

    @classmethod
    def named(cls, model: str) -> ModelNotFound:
        """The one answer for a model that does not exist and for one the caller's key may
        not use, so that a key learns nothing about the models it may not use."""
        return cls(
            f"The model '{model}' does not exist. GET /v1/models lists the models this "
            "server has.",
            param="model",
        )


class Conflict(MultaiError):
    status_code = 409
    type = "invalid_request_error"
    code = "duplicate_request_id"


class RequestTooLarge(MultaiError):
    status_code = 413
    type = "invalid_request_error"
    code = "request_too_large"


class QueueFull(MultaiError):
    status_code = 429
    type = "rate_limit_error"
    code = "queue_full"
    should_retry = True


class InferenceFailed(MultaiError):
    """A plugin raised during inference; the server keeps serving."""

    status_code = 500
    type = "server_error"


class ServiceUnavailable(MultaiError):
    status_code = 503
    type = "server_error"
    code = "model_unavailable"


class InsufficientMemory(ServiceUnavailable):
    code = "insufficient_memory"


class QueueTimeout(ServiceUnavailable):
    code = "queue_timeout"
    should_retry = True


class ShuttingDown(ServiceUnavailable):
    code = "shutting_down"
    should_retry = True


def where(exc: BaseException) -> str:
    """file:line of the innermost frame of ``exc``: enough to debug, without the message or
    the traceback's locals (either may hold request content, which must never be logged)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return ""
    return f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
