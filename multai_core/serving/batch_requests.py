"""One batch line run as the request it names: the body is checked as strictly as the endpoint
checks it and goes through the endpoint's own serving functions, at priority 2, so the body of
a line's response is the body the endpoint would have answered."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from multai_core.engine.scheduler import Job
from multai_core.plugin_api.errors import InvalidRequest
from multai_core.protocol.chat import ChatCompletionRequest
from multai_core.protocol.completions import CompletionRequest
from multai_core.protocol.embeddings import EmbeddingRequest
from multai_core.protocol.responses import ResponseRequest
from multai_core.serving import chat, completions, embeddings, responses, responses_stored
from multai_core.serving.services import Services

BATCH_PRIORITY = 2
T = TypeVar("T", bound=msgspec.Struct)
_AT = re.compile(r"at `\$\.([^`]+)`")
_MISSING = re.compile(r"missing required field `([A-Za-z0-9_]+)`")
_encode = msgspec.json.encode


def _integral_floats_as_ints(value: Any) -> Any:
    """As the endpoints accept them: JSON Schema calls 59.0 an integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


def _request(body: bytes, kind: type[T]) -> T:
    try:
        request = msgspec.convert(
            _integral_floats_as_ints(msgspec.json.decode(body)), kind, strict=True
        )
    except msgspec.ValidationError as exc:
        message = str(exc)
        at, missing = _AT.search(message), _MISSING.search(message)
        param = at.group(1) if at else missing.group(1) if missing else None
        raise InvalidRequest(f"Invalid request body: {message}", param=param) from None
    # a batch is background work whatever the line asks for
    return msgspec.structs.replace(request, priority=BATCH_PRIORITY)


async def run(
    services: Services, url: str, body: bytes, request_id: str, started: Callable[[Job], None]
) -> bytes:
    """The JSON body the endpoint at ``url`` answers; raises the MultaiError it would answer
    with. ``started`` gets the job as soon as it is queued (to cancel it)."""
    if url == "/v1/chat/completions":
        chat_req = _request(body, ChatCompletionRequest)
        job = await chat.start(services, chat_req, request_id)
        started(job)
        return _encode(await chat.complete(job, chat_req, f"chatcmpl-{request_id}"))
    if url == "/v1/completions":
        completion_req = _request(body, CompletionRequest)
        job = completions.start(services, completion_req, request_id)
        started(job)
        return _encode(await completions.complete(job, completion_req, f"cmpl-{request_id}"))
    if url == "/v1/embeddings":
        embedding_req = _request(body, EmbeddingRequest)
        job = embeddings.start(services, embedding_req, request_id)
        started(job)
        return _encode(await embeddings.complete(job, embedding_req))
    if url == "/v1/responses":
        response_req = _request(body, ResponseRequest)
        if response_req.background:
            raise InvalidRequest(
                "background must be false or left out in a batch: the batch is the background job.",
                param="background",
            )
        history = await responses_stored.history(services, response_req.previous_response_id)
        prepared = responses.prepare(response_req, f"resp_{request_id}", history)
        keep = responses_stored.keeper(services, prepared)
        job = await responses.start(services, prepared, request_id)
        started(job)
        response = await responses.complete(job, prepared)
        if keep is not None and not job.cancel_event.is_set():  # a line cut short runs again
            await keep(response)
        return _encode(response)
    raise InvalidRequest(f"A batch cannot run requests to {url}.", param="url")
