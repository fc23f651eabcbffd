"""Where the engine replicas post what they are doing, for the ingress's /v1/ps, /v1/queue and
/metrics: one small named actor. A replica posts a snapshot every ``POST_EVERY_S``; one not
heard from for ``STALE_AFTER_S`` (it died, or its node did) drops out. The answer to a post
names the models deleted since the replica's last one, which it unloads."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import msgspec
import ray
import structlog
from ray import serve
from ray.actor import ActorHandle
from ray.exceptions import RayError

from multai_core.plugin_api.errors import ServiceUnavailable
from multai_core.ray_serve.work import HEAD_NODE
from multai_core.serving.operations import EngineSnapshot

NAME = "multai-board"
POST_EVERY_S = 1.0
STALE_AFTER_S = 5.0
READ_ATTEMPTS = 3
DELETIONS_KEPT = 1000

log = structlog.get_logger(__name__)


@ray.remote(num_cpus=0, resources={HEAD_NODE: 0.001})  # beside the ingress: it outlives workers
class Board:
    def __init__(self) -> None:
        self._posted: dict[str, tuple[float, bytes]] = {}
        self._deleted: deque[tuple[int, str]] = deque(maxlen=DELETIONS_KEPT)
        self._deletions = 0

    def post(self, engine: str, snapshot: bytes, seen: int | None) -> tuple[int, list[str]]:
        """Records ``engine``'s snapshot; answers how many models have been deleted, and those
        deleted after the first ``seen`` of them (None: a first post, which has none to drop)."""
        self._posted[engine] = (time.monotonic(), snapshot)
        if seen is None:
            return self._deletions, []
        if seen > self._deletions:  # this board is a new one (its node was lost): all are news
            seen = 0
        return self._deletions, [name for number, name in self._deleted if number > seen]

    def delete(self, model: str) -> None:
        self._deletions += 1
        self._deleted.append((self._deletions, model))

    def read(self) -> list[bytes]:
        now = time.monotonic()
        self._posted = {
            engine: posted
            for engine, posted in self._posted.items()
            if now - posted[0] <= STALE_AFTER_S
        }
        return [snapshot for _, snapshot in self._posted.values()]


def board() -> ActorHandle[Any]:
    """The board of the Serve application this replica belongs to (made by whoever asks first;
    it outlives the replicas it serves). One per application: two MultAI applications on one
    cluster see only their own engines."""
    app = serve.get_replica_context().app_name
    handle: ActorHandle[Any] = Board.options(  # type: ignore[attr-defined]
        name=f"{NAME}-{app}",
        get_if_exists=True,
        lifetime="detached",
    ).remote()
    return handle


def encode(snapshot: EngineSnapshot) -> bytes:
    return msgspec.msgpack.encode(snapshot)


class BoardView:
    """The ingress's view of the engines: a
    :class:`~multai_core.serving.operations.ClusterView`."""

    def __init__(self) -> None:
        self._board: ActorHandle[Any] | None = None

    async def snapshots(self) -> list[EngineSnapshot]:
        for attempt in range(READ_ATTEMPTS):
            if self._board is None:
                self._board = board()
            try:
                posted: list[bytes] = await self._board.read.remote()
            except RayError:  # its node died: Ray starts it again, and the replicas repost
                self._board = None
                await asyncio.sleep(POST_EVERY_S * attempt)
                continue
            return [msgspec.msgpack.decode(p, type=EngineSnapshot) for p in posted]
        raise ServiceUnavailable(
            "The engine replicas' status is not available just now (a node was lost); retry "
            "in a few seconds.",
            retry_after=POST_EVERY_S * READ_ATTEMPTS,
        )

    async def unload(self, model: str) -> None:
        """Every replica unloads ``model`` after its next post, once its requests have ended."""
        try:
            await board().delete.remote(model)
        except RayError as exc:  # then the replicas holding it unload it at its keep_alive
            log.warning("model_unload_not_posted", model=model, error=type(exc).__name__)
