"""OpenAI's Responses API: POST /v1/responses (JSON, SSE events, or a background job), and
the stored ones: GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items,
POST /v1/responses/{id}/cancel."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, post, route
from litestar import Response as HttpResponse
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream

from multai_core.protocol.responses import Deleted, ItemList, Response, ResponseRequest
from multai_core.server.request_id import request_id_of
from multai_core.server.responses import event_stream, until_done
from multai_core.serving import responses, responses_background, responses_stored
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
        history = await responses_stored.history(services, data.previous_response_id)
        prepared = responses.prepare(data, f"resp_{request_id}", history)
        keep = responses_stored.keeper(services, prepared)
        job = await responses.start(services, prepared, request_id)
        if data.background:
            return await responses_background.begin(services, prepared, job)
        if data.stream:
            return await event_stream(
                services.scheduler,
                job,
                lambda first: responses.stream(job, prepared, first, keep),
                request=request,
            )
        response = await until_done(
            request, services.scheduler, job, responses.complete(job, prepared)
        )
        if keep is not None:
            await keep(response)
        return response

    @get("/{response_id:str}", summary="Get a stored response")
    async def retrieve(self, response_id: FromPath[str], state: State) -> Response:
        return await responses_stored.retrieve(state.services, response_id)

    @get("/{response_id:str}/input_items", summary="List a stored response's input items")
    async def input_items(
        self,
        response_id: FromPath[str],
        state: State,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        order: FromQuery[Literal["asc", "desc"]] = "desc",
        after: FromQuery[str | None] = None,
    ) -> ItemList:
        return await responses_stored.input_items(
            state.services, response_id, limit=limit, order=order, after=after
        )

    @delete("/{response_id:str}", status_code=200, summary="Delete a stored response")
    async def remove(self, response_id: FromPath[str], state: State) -> Deleted:
        return await responses_stored.delete(state.services, response_id)

    @post("/{response_id:str}/cancel", status_code=200, summary="Cancel a background response")
    async def cancel(self, response_id: FromPath[str], state: State) -> Response:
        return await responses_background.cancel(state.services, response_id)

    @route("/{response_id:str}", http_method="OPTIONS", include_in_schema=False)
    async def allowed(self) -> HttpResponse[None]:
        """Litestar's own OPTIONS answer lists one method of a path that has two."""
        return HttpResponse(None, status_code=204, headers={"allow": "DELETE, GET, OPTIONS"})
