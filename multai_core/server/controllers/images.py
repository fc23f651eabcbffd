"""POST /v1/images/generations (JSON) and /v1/images/edits (multipart)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.params import JSONBody

from multai_core.media.multipart import FORM_ALLOWANCE, read_multipart
from multai_core.protocol.images import ImageGenerateRequest, ImagesResponse
from multai_core.server.request_id import request_id_of
from multai_core.server.responses import until_done
from multai_core.serving import images
from multai_core.serving.services import Services

AnyRequest = Request[Any, Any, Any]


class ImagesController(Controller):
    path = "/v1/images"
    tags = ["images"]

    @post("/generations", status_code=200, summary="Create images from a prompt")
    async def generations(
        self, data: JSONBody[ImageGenerateRequest], request: AnyRequest, state: State
    ) -> ImagesResponse:
        services: Services = state.services
        job = images.start_generate(services, data, request_id_of(request.scope))
        return await until_done(
            request,
            services.scheduler,
            job,
            images.complete(services, job, data),
        )

    @post(
        "/edits",
        status_code=200,
        summary="Edit an image from a prompt (multipart)",
        request_max_body_size=None,  # enforced while reading: the files' limits, not the JSON one
    )
    async def edits(self, request: AnyRequest, state: State) -> ImagesResponse:
        services: Services = state.services
        max_image_bytes = services.config.server.max_image_bytes
        form = await read_multipart(
            request.headers.get("content-type"),
            request.stream(),
            max_file_bytes=max_image_bytes,
            # an image and its mask, each up to max_image_bytes
            max_body_bytes=2 * max_image_bytes + FORM_ALLOWANCE,
            file_setting="max_image_bytes",
            content_length=request.headers.get("content-length"),
        )
        data = await images.edit_request(services, form)
        job = images.start_edit(services, data, request_id_of(request.scope))
        return await until_done(
            request,
            services.scheduler,
            job,
            images.complete(services, job, data),
        )
