"""GET /v1/images/files/{name}: generated images at signed, expiring URLs.

A capability URL: an ``<img src>`` cannot send an API key, so the signature in the query is the
authorisation. This controller is public (``public = True``, ``opt={"public": True}``): the app
factory mounts it outside the authentication guard (``require_caller``). The links' host comes
from the configuration (``image_store.link_base``), never from a request's Host header.
"""

from __future__ import annotations

import time

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery

from multai_core.serving.images import image_store_of
from multai_core.serving.services import Services


class ImageFilesController(Controller):
    path = "/v1/images/files"
    tags = ["images"]
    public = True
    opt = {"public": True}

    @get("/{name:str}", summary="A generated image (signed, expiring link)")
    async def image_file(
        self,
        name: FromPath[str],
        state: State,
        expires: FromQuery[str | None] = None,
        sig: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        services: Services = state.services
        image = image_store_of(services).get(name, expires, sig)
        max_age = max(0, image.expires_at - int(time.time()))
        return Response(
            content=image.data,
            media_type=image.content_type,
            headers={
                "cache-control": f"private, max-age={max_age}",
                "x-content-type-options": "nosniff",
                "content-security-policy": "default-src 'none'; sandbox",
                "referrer-policy": "no-referrer",
            },
        )
