"""The web page: GET / links to it, GET /ui serves it (static files shipped in
multai_core/server/ui/, under a strict Content-Security-Policy), and two guarded reads that only
the page needs: the caller's models with their tasks, and the devices' memory."""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath

from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import AuthenticationFailed, MultaiError
from multai_core.server.auth import AuthGuard, authorization
from multai_core.serving.services import Services

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "permissions-policy": "microphone=(self), camera=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-cache",
}
TYPES = {  # Litestar adds "; charset=utf-8" to the text types
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
}
FILES = resources.files("multai_core.server") / "ui"


def _asset(name: str) -> Response[bytes]:
    """One file of the page's folder, by its plain name only: no path reaches the disk."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or name.startswith(".") or suffix not in TYPES:
        raise _not_found(name)
    path = FILES / name
    if not path.is_file():
        raise _not_found(name)
    return Response(path.read_bytes(), media_type=TYPES[suffix], headers=HEADERS)


def _not_found(name: str) -> MultaiError:
    error = MultaiError(f"The web page has no file '{name}'.")
    error.status_code, error.type, error.code = 404, "invalid_request_error", "not_found"
    return error


class KeyCheck(msgspec.Struct, kw_only=True):
    accepted: bool
    message: str = ""


class PageController(Controller):
    """The page's files, outside the auth guard: they hold no data; what they show comes from
    the guarded API, called with the key the user enters."""

    public = True
    include_in_schema = False

    @get("/", summary="A link to the web page")
    async def root(self) -> Response[bytes]:
        return _asset("root.html")

    @get(["/ui", "/ui/"], summary="The web page")
    async def page(self) -> Response[bytes]:
        return _asset("index.html")

    @get("/ui/{name:str}", summary="A file of the web page")
    async def asset(self, name: FromPath[str]) -> Response[bytes]:
        return _asset(name)

    @get("/ui/api/key", summary="Whether the server takes the key sent (200 either way)")
    async def key(self, request: Request[Any, Any, Any], state: State) -> KeyCheck:
        """The page asks this before anything else, so that a missing or wrong key is a
        question in the page rather than a 401 in the browser's console."""
        guard: AuthGuard = state.guard
        try:
            guard.authenticate(authorization(request.headers), request.headers)
        except AuthenticationFailed as exc:
            return KeyCheck(accepted=False, message=exc.message)
        return KeyCheck(accepted=True)


class PageModel(msgspec.Struct, kw_only=True):
    id: str
    backend: str
    tasks: list[str]
    aliases: list[str]


class PageModels(msgspec.Struct, kw_only=True):
    data: list[PageModel]


class PageGpu(msgspec.Struct, kw_only=True):
    index: int
    name: str
    total_bytes: int
    free_bytes: int


class PageDevices(msgspec.Struct, kw_only=True):
    gpus: list[PageGpu]
    ram_total_bytes: int
    ram_free_bytes: int


class PageDataController(Controller):
    """What the page needs beyond the OpenAI API, behind the same key as every endpoint."""

    path = "/ui/api"
    include_in_schema = False

    @get("/models", summary="The caller's models, each with the tasks its backend serves")
    async def models(self, state: State) -> PageModels:
        services: Services = state.services
        caller = principal.current()
        data = [
            PageModel(
                id=spec.name,
                backend=spec.backend,
                tasks=sorted(services.registry.backends[spec.backend].tasks),
                aliases=list(spec.aliases),
            )
            for spec in services.registry.models.values()
            if caller.may_use(model=spec.name, aliases=spec.aliases)
        ]
        return PageModels(data=data)

    @get("/devices", summary="Each GPU's memory and the host's RAM, as the server sees them")
    async def devices(self, state: State) -> PageDevices:
        services: Services = state.services
        snap = await asyncio.to_thread(services.memory.devices)
        return PageDevices(
            gpus=[
                PageGpu(
                    index=g.index, name=g.name, total_bytes=g.total_bytes, free_bytes=g.free_bytes
                )
                for g in snap.gpus
            ],
            ram_total_bytes=snap.ram_total_bytes,
            ram_free_bytes=snap.ram_free_bytes,
        )
