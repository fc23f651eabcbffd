"""Admin only: POST /v1/models/pull (SSE progress of a pull) and DELETE /v1/models/{model}
(pulled models only). The server process stays offline: the download runs in a process of its
own (without the offline switches), watched by a thread, never on the event loop or a scheduler
worker; one pull at a time. When it ends, the served models are read again, so a pulled model is
served (and a deleted one gone) without a restart. Under Ray Serve, a pulled model is copied into
every other node's store before it is served, and a delete removes it there too."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import structlog
from litestar import Controller, Response, delete, post, route
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

from multai_core.config import models_dir
from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import (
    Conflict,
    InvalidRequest,
    ModelNotFound,
    PermissionDenied,
)
from multai_core.plugin_api.types import ModelSpec
from multai_core.registry import Registry
from multai_core.server.responses import SSE_HEADERS
from multai_core.serving.services import Services
from multai_core.serving.sse import DONE, event
from multai_core.store.catalog import PullRefused, wanted
from multai_core.store.manifest import ModelStore, PulledModel
from multai_core.store.mirror import relative_path
from multai_core.store.preflight import assessor
from multai_core.store.pull import start_worker

log = structlog.get_logger(__name__)
_pulling = threading.Lock()  # one pull at a time: a pull is disk and network bound


class PullRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    model: str  # a catalog name or owner/repo[:file][@revision]; with update, a pulled model
    name: str | None = None
    backend: str | None = None
    update: bool = False
    yes: bool = False  # pull even when it would not fit in memory now


class PullEvent(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="object", tag="model.pull"
):
    """One `data:` event of a pull: progress lines, then done (with the model) or error."""

    status: str  # progress, done or error
    message: str | None = None
    model: dict[str, Any] | None = None
    error: dict[str, str] | None = None


_PULL_EVENTS = ResponseSpec(
    data_container=PullEvent,
    media_type="text/event-stream",
    description=(
        "text/event-stream events `data: <PullEvent>`: progress, then one done or error, then "
        "`data: [DONE]`"
    ),
    generate_examples=False,
)


class DeletedModel(msgspec.Struct, kw_only=True):
    id: str
    object: str = "model"
    deleted: bool = True


def _admin_only(what: str) -> None:
    if not principal.current().admin:
        raise PermissionDenied(f"{what} needs an admin API key ([server].api_keys with admin)")


def _reload(services: Services) -> None:
    """The served models read again: the config, the store and the plugins' defaults."""
    services.registry = Registry.for_config(services.registry.backends.values(), services.config)


class _Events:
    """SSE events handed from the worker thread to the request's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes]) -> None:
        self._loop, self._queue = loop, queue

    def send(self, payload: PullEvent) -> None:
        data = event(msgspec.to_builtins(payload))
        self._loop.call_soon_threadsafe(self._queue.put_nowait, data)

    def end(self) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, DONE)


def _run(services: Services, body: PullRequest, events: _Events) -> None:
    """Runs in a thread: the pull in a process of its own, its lines turned into events; the
    server's memory manager answers its estimate question. Last event: done or error."""
    request = msgspec.to_builtins(body) | {"models_dir": str(models_dir(services.config.server))}
    assess = assessor(services.memory.packs.hooks.keys(), services.memory)
    final: dict[str, Any] = {"error": "The pull stopped without a result."}
    try:
        with start_worker(request, answers=True) as worker:
            assert worker.stdin is not None and worker.stdout is not None
            for raw in worker.stdout:
                message = json.loads(raw)
                if "assess" in message:
                    verdict = assess(msgspec.convert(message["assess"], ModelSpec))
                    worker.stdin.write(json.dumps({"text": verdict.text, "fits": verdict.fits}))
                    worker.stdin.write("\n")
                    worker.stdin.flush()
                elif "line" in message:
                    events.send(PullEvent(status="progress", message=message["line"]))
                else:
                    final = message
        if "done" in final:
            model = final["done"]
            nodes = _copy_to_other_nodes(services, model, events)
            _reload(services)
            served = model["name"] in services.registry.models
            events.send(
                PullEvent(
                    status="done",
                    model={
                        "id": model["name"],
                        "backend": model["backend"],
                        "source": model["source"],
                        "revision": model["revision"],
                        "size_bytes": model["size_bytes"],
                        "served": served,
                    }
                    | ({"nodes": nodes} if nodes is not None else {}),
                )
            )
        else:
            events.send(PullEvent(status="error", error={"message": str(final.get("error"))}))
    except Exception as exc:
        log.error("model_pull_failed", error=type(exc).__name__)
        error = {"message": "The pull failed; the server log has details."}
        events.send(PullEvent(status="error", error=error))
    finally:
        _pulling.release()
        events.end()


def _copy_to_other_nodes(
    services: Services, model: dict[str, Any], events: _Events
) -> dict[str, str] | None:
    """Under Ray Serve, the pulled model copied into every other node's store before it is
    served, so a replica anywhere can load it: what happened on each node. None: one machine."""
    if services.other_stores is None:
        return None

    def say(line: str) -> None:
        events.send(PullEvent(status="progress", message=line))

    pulled = msgspec.convert(model, PulledModel)
    here = ModelStore(models_dir(services.config.server))
    copied = services.other_stores.copy(pulled, relative_path(pulled, here), say)
    for node, outcome in copied.items():
        if outcome not in ("pulled", "already there"):
            log.warning("model_copy_failed_on_node", model=pulled.name, node=node)
    return copied


class ModelPullController(Controller):
    path = "/v1/models"
    tags = ["models"]

    @post(
        "/pull",
        status_code=200,
        summary="Pull a model from the Hugging Face hub (admin; SSE progress)",
        responses={200: _PULL_EVENTS},
    )
    async def pull_model(self, data: JSONBody[PullRequest], state: State) -> Stream:
        _admin_only("pulling a model")
        services: Services = state.services
        # what can be refused before any download is an error status, not an event
        if data.update:
            store = ModelStore(models_dir(services.config.server))
            if store.get(data.model) is None:
                raise ModelNotFound(
                    f"'{data.model}' is not a pulled model, so there is nothing to update: "
                    "GET /v1/models lists the served ones, `multai list` the pulled ones.",
                    param="model",
                )
        else:
            try:
                wanted(data.model)
            except PullRefused as exc:
                raise InvalidRequest(str(exc), param="model") from exc
        if not _pulling.acquire(blocking=False):
            raise Conflict(
                "A pull is already running on this server; try again when it ends.",
                code="pull_running",
            )
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        sink = _Events(asyncio.get_running_loop(), queue)
        threading.Thread(
            target=_run, args=(services, data, sink), name="model-pull", daemon=True
        ).start()

        async def events() -> AsyncIterator[bytes]:
            while True:  # a client that leaves does not stop the pull
                chunk = await queue.get()
                yield chunk
                if chunk == DONE:
                    return

        return Stream(events(), headers=SSE_HEADERS)

    @delete("/{model:str}", status_code=200, summary="Delete a pulled model (admin)")
    async def delete_model(self, model: FromPath[str], state: State) -> DeletedModel:
        _admin_only("deleting a model")
        services: Services = state.services
        store = ModelStore(models_dir(services.config.server))
        if store.get(model) is None:
            if model in services.registry.models:
                raise Conflict(
                    f"The model '{model}' comes from the config or a plugin, not from "
                    "`multai pull`: only pulled models can be deleted.",
                    param="model",
                    code="not_a_pulled_model",
                )
            raise ModelNotFound.named(model)
        if services.memory.busy(model) or services.memory.waiting_for(model):
            raise Conflict(
                f"The model '{model}' is in use; try again when its requests end.",
                code="model_in_use",
            )
        await asyncio.to_thread(store.remove, model)
        if services.other_stores is not None:
            removed = await asyncio.to_thread(services.other_stores.remove, model)
            for node, outcome in removed.items():
                if outcome not in ("removed", "not there"):
                    log.warning("model_delete_failed_on_node", model=model, node=node)
        _reload(services)
        services.memory.unload(model, reason="deleted")
        if services.cluster is not None:
            await services.cluster.unload(model)
        return DeletedModel(id=model)

    # GET /v1/models/{model} lives in ModelsController: Litestar's own OPTIONS answer for a
    # path served by two controllers lists only one of them
    @route("/{model:str}", http_method="OPTIONS", include_in_schema=False)
    async def allowed_on_a_model(self) -> Response[None]:
        return Response(None, status_code=204, headers={"allow": "DELETE, GET, OPTIONS"})
