"""OpenAI's Batch API: POST /v1/batches, GET /v1/batches (paginated), GET /v1/batches/{id},
POST /v1/batches/{id}/cancel."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, route
from litestar import Response as HttpResponse
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from multai_core.protocol.batches import Batch, BatchCreateRequest, BatchList
from multai_core.serving import batches


class BatchesController(Controller):
    path = "/v1/batches"
    tags = ["batches"]

    @post("/", status_code=200, summary="Create a batch from an uploaded file of requests")
    async def create(self, data: JSONBody[BatchCreateRequest], state: State) -> Batch:
        return await batches.create(state.services, state.batch_runner, data)

    @get("/", summary="List batches, newest first")
    async def list_batches(
        self,
        state: State,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        after: FromQuery[str | None] = None,
    ) -> BatchList:
        return await batches.list_batches(state.services, after=after, limit=limit)

    @get("/{batch_id:str}", summary="Get a batch")
    async def retrieve(self, batch_id: FromPath[str], state: State) -> Batch:
        return await batches.retrieve(state.services, batch_id)

    @post("/{batch_id:str}/cancel", status_code=200, summary="Cancel a batch")
    async def cancel(self, batch_id: FromPath[str], state: State) -> Batch:
        return await batches.cancel(state.services, state.batch_runner, batch_id)

    @route("/", http_method="OPTIONS", include_in_schema=False)
    async def allowed(self) -> HttpResponse[None]:
        """Litestar's own OPTIONS answer lists one method of a path that has two."""
        return HttpResponse(None, status_code=204, headers={"allow": "GET, OPTIONS, POST"})
