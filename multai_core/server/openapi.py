"""The server's own OpenAPI document lists the errors every endpoint can answer with, in
OpenAI's shape, so clients and fuzzers know what to expect."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Schema
from litestar.routes import HTTPRoute

from multai_core import __version__
from multai_core.config import ServerConfig
from multai_core.protocol.common import ErrorResponse
from multai_core.server.auth import require_caller

PATH = "/openapi"

_COMMON = {
    400: "Invalid request: bad JSON, a wrong type or value, input the model cannot take",
    401: "Missing or wrong credentials",
    403: "The caller's key does not allow this priority or model",
    404: "Unknown model or resource",
    405: "Method not allowed",
    409: "A request with the same X-Request-Id is still queued or running",
    413: "Body or upload over its limit",
    429: "Queue full; retry after the Retry-After header",
    500: "A plugin failed during inference; the server keeps serving",
    503: "Model failed to load, does not fit in memory, waited too long, or shutting down",
}
_PUBLIC = {405: _COMMON[405], 404: _COMMON[404]}


def openapi_config(server: ServerConfig) -> OpenAPIConfig:
    """The document at /openapi, behind the same authentication as the API unless
    ``openapi_public``: it names every endpoint, model parameter and limit this server has."""
    guards = [] if server.openapi_public else [require_caller]
    return OpenAPIConfig(
        title="MultAI",
        version=__version__,
        openapi_router=Router(path=PATH, route_handlers=[], guards=guards),
        # documents only: the UI plugins load scripts from a CDN, and this server is offline
        render_plugins=[JsonRenderPlugin(), YamlRenderPlugin()],
    )


def streamable(whole: type[Any], chunk: type[Any]) -> ResponseSpec:
    """The 200 of an endpoint that answers JSON, or SSE events when the body says stream."""
    return ResponseSpec(
        data_container=whole,
        description=(
            f"{whole.__name__} as JSON; with stream=true, text/event-stream events "
            f"`data: <{chunk.__name__}>` ending with `data: [DONE]`"
        ),
        generate_examples=False,
    )


def document_errors(app: Litestar) -> None:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.include_in_schema is False:
                continue
            statuses = _PUBLIC if getattr(handler.owner, "public", False) else _COMMON
            documented = {
                status: ResponseSpec(
                    data_container=ErrorResponse, description=text, generate_examples=False
                )
                for status, text in statuses.items()
            }
            handler.responses = {**documented, **(handler.responses or {})}


def _sse_event() -> Schema:
    """One server-sent event (OpenAPI 3.1 has no itemSchema; tools read ``schema`` per event)."""
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["data"],
        properties={
            "data": Schema(
                type=OpenAPIType.STRING,
                description="A chunk as JSON, an error object as JSON, or [DONE] at the end",
            ),
            "event": Schema(type=OpenAPIType.STRING),
            "id": Schema(type=OpenAPIType.STRING),
            "retry": Schema(type=OpenAPIType.INTEGER),
        },
    )


_SSE_EVENT = _sse_event()


def document_streams(app: Litestar) -> None:
    """A 200 made by ``streamable`` also answers text/event-stream (Litestar's ResponseSpec
    holds one media type, so the second is added to the generated document)."""
    for item in (app.openapi_schema.paths or {}).values():
        for operation in (item.get, item.post):
            responses = operation.responses if operation is not None else None
            ok = (responses or {}).get("200")
            content = getattr(ok, "content", None)
            streams = "text/event-stream" in (getattr(ok, "description", "") or "")
            if content is not None and streams:
                content["text/event-stream"] = OpenAPIMediaType(schema=_SSE_EVENT)
