"""OpenAI's Files API: POST /v1/files (multipart), GET /v1/files, GET and DELETE
/v1/files/{file_id}, GET /v1/files/{file_id}/content.

The upload is read as it arrives and kept in memory up to ``[server] max_file_bytes``; more is a
413 as soon as it is known (from Content-Length before anything is read, else once the file part
passes the limit). Litestar's own form parsing would cap it at the JSON limit and spool it to a
temporary file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, delete, get, post, route
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, FromQuery, QueryParameter

from multai_core.media.multipart import FORM_ALLOWANCE, read_multipart
from multai_core.protocol.files import (
    MAX_LIST_LIMIT,
    UPLOAD_PURPOSES,
    File,
    FileDeleted,
    FileList,
    ListOrder,
)
from multai_core.serving import files
from multai_core.serving.services import Services

AnyRequest = Request[Any, Any, Any]
FILE_FIELD = "file"
MAX_FIELD_BYTES = 4 * 1024
NOT_MULTIPART = (
    "Send the request as multipart/form-data with the file in the field `file` and its "
    "`purpose` (the OpenAI SDKs do; with curl use -F purpose=batch -F file=@requests.jsonl)."
)


@dataclass
class UploadOperation(Operation):
    """Documents the multipart form (Litestar infers none: the handler reads the body)."""

    def __post_init__(self) -> None:
        schema = Schema(
            type=OpenAPIType.OBJECT,
            properties={
                "file": Schema(
                    type=OpenAPIType.STRING,
                    format=OpenAPIFormat.BINARY,
                    description="The file; for purpose batch, JSONL with one request a line",
                ),
                "purpose": Schema(type=OpenAPIType.STRING, enum=list(UPLOAD_PURPOSES)),
            },
            required=["file", "purpose"],
        )
        self.request_body = RequestBody(
            content={"multipart/form-data": OpenAPIMediaType(schema=schema)}, required=True
        )


_CONTENT = ResponseSpec(
    data_container=bytes,
    media_type="application/octet-stream",
    description="The file's bytes as uploaded (JSONL for batch and batch_output files)",
    generate_examples=False,
)


class FilesController(Controller):
    path = "/v1/files"
    tags = ["files"]

    @post(
        "/",
        status_code=200,
        request_max_body_size=None,  # enforced while reading, from [server].max_file_bytes
        summary="Upload a file (a batch input file is checked line by line)",
        operation_class=UploadOperation,
    )
    async def upload(self, request: AnyRequest, state: State) -> File:
        services: Services = state.services
        max_file_bytes = services.config.server.max_file_bytes
        form = await read_multipart(
            request.headers.get("content-type"),
            request.stream(),
            max_file_bytes=max_file_bytes,
            max_field_bytes=MAX_FIELD_BYTES,
            max_body_bytes=max_file_bytes + FORM_ALLOWANCE,
            file_setting="max_file_bytes",
            content_length=request.headers.get("content-length"),
            only_file=FILE_FIELD,
            strict=False,
            not_multipart=NOT_MULTIPART,
        )
        uploads = form.files.get(FILE_FIELD)
        return await files.upload(services, form.field("purpose"), uploads[0] if uploads else None)

    @get("/", summary="List the caller's files")
    async def list_files(
        self,
        state: State,
        purpose: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIST_LIMIT)] = MAX_LIST_LIMIT,
        after: FromQuery[str | None] = None,
        order: FromQuery[ListOrder] = "desc",
    ) -> FileList:
        return await files.listing(
            state.services, purpose=purpose, limit=limit, after=after, order=order
        )

    @get("/{file_id:str}", summary="Get a file object")
    async def retrieve(self, file_id: FromPath[str], state: State) -> File:
        return await files.retrieve(state.services, file_id)

    @get(
        "/{file_id:str}/content",
        summary="Get a file's bytes",
        responses={200: _CONTENT},
    )
    async def content(self, file_id: FromPath[str], state: State) -> Response[bytes]:
        found = await files.content(state.services, file_id)
        name = quote(found.filename, safe="")
        return Response(
            content=found.data,
            media_type="application/octet-stream",
            headers={
                "content-disposition": f"attachment; filename*=UTF-8''{name}",
                "x-content-type-options": "nosniff",
            },
        )

    @delete("/{file_id:str}", status_code=200, summary="Delete a file")
    async def remove(self, file_id: FromPath[str], state: State) -> FileDeleted:
        return await files.delete(state.services, file_id)

    # Litestar's own OPTIONS answer lists one method of a path that has two
    @route("/", http_method="OPTIONS", include_in_schema=False)
    async def allowed_on_files(self) -> Response[None]:
        return Response(None, status_code=204, headers={"allow": "GET, OPTIONS, POST"})

    @route("/{file_id:str}", http_method="OPTIONS", include_in_schema=False)
    async def allowed_on_a_file(self) -> Response[None]:
        return Response(None, status_code=204, headers={"allow": "DELETE, GET, OPTIONS"})
