"""OpenAI's Responses API: POST /v1/responses (JSON or SSE events)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.response import Stream

from multai_core.protocol.responses import Response, ResponseRequest
from multai_core.server.request_id import request_id_of
from multai_core.server.responses import event_stream, until_done
from multai_core.serving import responses
from multai_core.serving.services import Services

AnyRequest = Request[Any, Any, Any]

_CREATED = ResponseSpec(
    data_container=Response,
    description=(
        "Response as JSON; with stream=true, text/event-stream events `event: <type>` "
        "`data: <ResponseStreamEvent>` from response.created to response.completed"
    ),
    generate_examples=False,
)


class ResponsesController(Controller):
    path = "/v1/responses"
    tags = ["responses"]

    @post("/", status_code=200, summary="Create a model response", responses={200: _CREATED})
    async def create(
        self, data: JSONBody[ResponseRequest], request: AnyRequest, state: State
    ) -> Response | Stream:
        services: Services = state.services
        request_id = request_id_of(request.scope)
        prepared = responses.prepare(data, f"resp_{request_id}")
        job = await responses.start(services, prepared, request_id)
        if data.stream:
            return await event_stream(
                services.scheduler,
                job,
                lambda first: responses.stream(job, prepared, first),
                request=request,
            )
        return await until_done(request, services.scheduler, job, responses.complete(job, prepared))
