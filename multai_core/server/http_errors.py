"""Errors the HTTP layer answers itself, before or beside the app (timeouts, broken framing,
oversized headers, too many connections), in OpenAI's shape like every other error."""

from __future__ import annotations

import http

import msgspec

from multai_core.plugin_api.errors import InvalidRequest, MultaiError, ServiceUnavailable

MAX_HEADER_BYTES = 16 * 1024  # h11's default; a request head beyond it is answered 431

_encoder = msgspec.json.Encoder()


class RequestTimeout(MultaiError):
    status_code = 408
    type = "invalid_request_error"
    code = "request_timeout"


class HeadersTooLarge(MultaiError):
    status_code = 431
    type = "invalid_request_error"
    code = "headers_too_large"


class TooManyConnections(ServiceUnavailable):
    code = "too_many_connections"
    should_retry = True


def header_timeout(seconds: float) -> RequestTimeout:
    return RequestTimeout(
        f"The request headers did not arrive within {seconds:g} s "
        "([server].header_timeout_s); send the whole request head at once."
    )


def body_timeout(seconds: float) -> RequestTimeout:
    return RequestTimeout(
        f"The request body stalled: nothing arrived for {seconds:g} s "
        "([server].body_timeout_s). Send as many bytes as Content-Length or the chunk "
        "sizes announce."
    )


def bad_framing(status_hint: int) -> MultaiError:
    if status_hint == 431:
        return HeadersTooLarge(
            f"The request head is larger than {MAX_HEADER_BYTES // 1024} KiB, the most this "
            "server reads; send fewer or shorter headers."
        )
    return InvalidRequest(
        "The request is not valid HTTP/1.1 (its framing is malformed: check the request "
        "line, the headers, Content-Length and the chunked encoding)."
    )


def too_many_connections(limit: int) -> TooManyConnections:
    return TooManyConnections(
        f"The server holds its maximum of {limit} open connections "
        "([server].max_connections); retry shortly, or reuse a connection.",
        retry_after=1,
    )


def error_headers(exc: MultaiError, length: int) -> list[tuple[bytes, bytes]]:
    headers = {
        "content-type": "application/json",
        "content-length": str(length),
        "connection": "close",
        **exc.headers,
        "x-should-retry": "true" if exc.should_retry else "false",
    }
    if exc.retry_after is not None:
        headers["retry-after"] = str(int(max(1, round(exc.retry_after))))
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


def error_body(exc: MultaiError) -> bytes:
    return _encoder.encode(exc.body())


def raw_response(exc: MultaiError) -> bytes:
    """A whole HTTP/1.1 response that closes the connection, written straight to the socket:
    for moments when the HTTP parser has no request to answer (a head that never finished)
    or has failed."""
    body = error_body(exc)
    phrase = http.HTTPStatus(exc.status_code).phrase
    head = [f"HTTP/1.1 {exc.status_code} {phrase}".encode("latin-1")]
    head += [name + b": " + value for name, value in error_headers(exc, len(body))]
    return b"\r\n".join(head) + b"\r\n\r\n" + body
