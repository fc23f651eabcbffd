"""JSON bodies are checked strictly before Litestar converts them.

Litestar converts a body into its msgspec Struct leniently (``strict=False``), so `"stream": 0`
was read as false and `"max_tokens": "5"` as 5, where OpenAI answers 400 ("expected a boolean,
but got an integer"). This hook decodes the body once more, strictly, and answers 400 with
msgspec's message and path. A float with an integral value stays acceptable for an integer
field: JSON Schema calls 59.0 an integer, and clients that build JSON from floats send it."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from multai_core.plugin_api.errors import InvalidRequest

_AT = re.compile(r"at `\$\.([^`]+)`")
_MISSING = re.compile(r"missing required field `([A-Za-z0-9_]+)`")


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


def _body_type(request: Any) -> type[msgspec.Struct] | None:
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None or not isinstance(data.annotation, type):
        return None
    annotation: type = data.annotation
    return annotation if issubclass(annotation, msgspec.Struct) else None


async def check_json_body(request: Any) -> None:
    """A Litestar ``before_request`` hook (after the guards, so an unauthenticated caller
    learns nothing about the schema)."""
    target = _body_type(request)
    if target is None or "json" not in request.headers.get("content-type", "json"):
        return
    try:
        raw = msgspec.json.decode(await request.body())
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return  # Litestar's own decoding answers these, with their messages
    try:
        msgspec.convert(_integral_floats_as_ints(raw), target, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        at, missing = _AT.search(message), _MISSING.search(message)
        param = at.group(1) if at else missing.group(1) if missing else None
        raise InvalidRequest(f"Invalid request body: {message}", param=param) from None
