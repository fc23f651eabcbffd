"""A batch input file checked line by line, as OpenAI checks it at upload: each non-empty line
one JSON object ``{"custom_id", "method": "POST", "url", "body"}``. The first bad line is a 400
that names it and says what to fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from multai_core.plugin_api.errors import InvalidRequest

BATCH_URLS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses")
_SHAPE = (
    'each line is one JSON object {"custom_id": "<unique string>", "method": "POST", '
    '"url": "/v1/chat/completions", "body": {"model": "<model>", ...}}'
)
_decode = msgspec.json.Decoder().decode


class BatchLine(msgspec.Struct, kw_only=True, frozen=True):
    line: int  # from 1, counting every line of the file, empty ones too
    custom_id: str
    method: str
    url: str
    body: dict[str, Any]


_BOM = b"\xef\xbb\xbf"
_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_SHOWN = 60  # characters of a client's value quoted back in a message


def _bad(number: int, problem: str) -> InvalidRequest:
    return InvalidRequest(f"line {number}: {problem}", param="file")


def _quoted(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}..."


def _parse(number: int, text: bytes) -> dict[str, Any]:
    try:
        value = _decode(text)
    except msgspec.DecodeError as exc:
        raise _bad(number, f"not valid UTF-8 JSON ({exc}); {_SHAPE}.") from None
    if not isinstance(value, dict):
        kind = _JSON_KINDS.get(type(value), "value")
        raise _bad(number, f"a JSON {kind}, not an object; {_SHAPE}.")
    return value


def _checked(number: int, value: dict[str, Any], seen: set[str]) -> BatchLine:
    custom_id = value.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        what = "missing" if custom_id is None else "not a non-empty string"
        raise _bad(number, f"custom_id is {what}; give each request a unique string custom_id.")
    if custom_id in seen:
        raise _bad(
            number,
            f"custom_id {_quoted(custom_id)} is used by an earlier line; custom_id must be unique "
            "in the file.",
        )
    method = value.get("method")
    if method != "POST":
        raise _bad(number, 'method must be "POST".')
    url = value.get("url")
    if url not in BATCH_URLS:
        raise _bad(number, f"url must be one of {', '.join(BATCH_URLS)}, not {_quoted(url)}.")
    body = value.get("body")
    if not isinstance(body, dict):
        raise _bad(number, f"body must be a JSON object, the request {url} would take.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad(number, "body.model must name the model (a non-empty string).")
    if body.get("stream") not in (None, False):
        raise _bad(number, "body.stream must be false or left out: a batch keeps whole answers.")
    return BatchLine(line=number, custom_id=custom_id, method=method, url=url, body=body)


def _lines(content: bytes) -> Iterator[tuple[int, bytes]]:
    """The non-empty lines and their numbers, one copied at a time (not the whole file)."""
    start, number = 0, 0
    while start <= len(content):
        end = content.find(b"\n", start)
        end = len(content) if end < 0 else end
        number += 1
        text = content[start:end].strip()
        if text:
            yield number, text
        start = end + 1


def iter_batch_input(content: bytes, *, max_lines: int) -> Iterator[BatchLine]:
    """The requests of a batch input file one by one, in file order, each checked as it is
    reached (the upload check keeps none of them). An InvalidRequest names the first bad line:
    not JSON, a field missing or wrong, a custom_id used twice, or one line more than
    ``max_lines`` ([server] max_batch_lines)."""
    count = 0
    seen: set[str] = set()
    content = content.removeprefix(_BOM)
    for number, text in _lines(content):
        if count == max_lines:
            raise _bad(
                number,
                f"the file has more than {max_lines} requests, the most one batch may hold "
                "([server] max_batch_lines); split it into several files.",
            )
        checked = _checked(number, _parse(number, text), seen)
        seen.add(checked.custom_id)
        count += 1
        yield checked
    if not count:
        raise InvalidRequest(
            f"The batch input file has no requests; {_SHAPE}.",
            param="file",
        )


def check_batch_input(content: bytes, *, max_lines: int) -> list[BatchLine]:
    """Every request of a batch input file, in file order; raises as iter_batch_input does."""
    return list(iter_batch_input(content, max_lines=max_lines))
