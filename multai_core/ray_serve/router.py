"""Routing by model: a Serve request router (``RequestRouterConfig``) for the engine replicas.

A request carries its model as Serve's ``multiplexed_model_id``. The router sends it to a
replica that holds that model (from the routing stats each replica reports, and from the
requests the router itself just sent there, which the stats do not show yet) or to one that
holds nothing; Serve picks the least busy of those, so a model in demand spreads to idle
replicas. Where neither exists, the model goes where it displaces the least: to the replica
whose models were asked for longest ago (most free memory breaks ties), so that two groups of
users on two models each keep their replica. Each replica's memory manager still decides
loads and evictions by bytes; Serve's multiplexing (a count of models per replica, evicted by
LRU) is not used. Serve sends to the first rank with room, then tries the next."""

from __future__ import annotations

import time
from typing import Any

from ray.serve.request_router import (
    PendingRequest,
    ReplicaID,
    RequestRouter,
    RunningReplica,
)

from multai_core.ray_serve.work import FREE_BYTES, RESIDENT

SENT_MEMORY_S = 2.0
"""How long the router trusts its own record of where it sent a model over the replicas'
stats, which arrive every ``request_routing_stats_period_s``."""


class ModelAffinityRouter(RequestRouter):
    def initialize_state(self, **kwargs: Any) -> None:  # noqa: ARG002 (Serve's signature)
        self._sent: dict[str, tuple[ReplicaID, float]] = {}
        self._asked: dict[str, float] = {}  # model -> when a request last asked for it

    async def choose_replicas(
        self,
        candidate_replicas: list[RunningReplica],
        pending_request: PendingRequest | None = None,
    ) -> list[list[RunningReplica]]:
        model = pending_request.metadata.multiplexed_model_id if pending_request else ""
        ranks = rank(candidate_replicas, model, self._holdings(), self._asked)
        if model:
            self._asked[model] = time.monotonic()
        return ranks

    def on_request_routed(
        self,
        pending_request: PendingRequest,
        replica_id: ReplicaID,
        result: Any,  # noqa: ARG002 (Serve's signature)
    ) -> None:
        model = pending_request.metadata.multiplexed_model_id
        if model:
            self._sent[model] = (replica_id, time.monotonic())

    def _holdings(self) -> dict[ReplicaID, set[str]]:
        """The models this router sent to each replica within SENT_MEMORY_S."""
        now = time.monotonic()
        held: dict[ReplicaID, set[str]] = {}
        for model, (replica, at) in self._sent.items():
            if now - at <= SENT_MEMORY_S:
                held.setdefault(replica, set()).add(model)
        return held


def rank(
    replicas: list[RunningReplica],
    model: str,
    sent: dict[ReplicaID, set[str]],
    asked: dict[str, float],
) -> list[list[RunningReplica]]:
    """Ranks: the replicas holding ``model`` and those holding nothing; then each other replica
    alone, the one whose models were asked for longest ago first, most free memory breaking
    ties."""

    def models_on(replica: RunningReplica) -> set[str]:
        stats = replica.routing_stats or {}
        return set(stats.get(RESIDENT, ())) | sent.get(replica.replica_id, set())

    def displaces(replica: RunningReplica) -> tuple[float, int]:
        last_asked = max((asked.get(m, 0.0) for m in models_on(replica)), default=-1.0)
        return last_asked, -int((replica.routing_stats or {}).get(FREE_BYTES, 0))

    first = [r for r in replicas if not models_on(r) or (model and model in models_on(r))]
    others = sorted((r for r in replicas if r not in first), key=displaces)
    return ([first] if first else []) + [[r] for r in others]


class RoundRobinRouter(RequestRouter):
    """Each request to the next replica in turn, models ignored: the baseline
    ``bench/bench_ray_routing.py`` measures the model-affinity router against."""

    def initialize_state(self, **kwargs: Any) -> None:  # noqa: ARG002 (Serve's signature)
        self._turn = 0

    async def choose_replicas(
        self,
        candidate_replicas: list[RunningReplica],
        pending_request: PendingRequest | None = None,  # noqa: ARG002 (Serve's signature)
    ) -> list[list[RunningReplica]]:
        if not candidate_replicas:
            return []
        ordered = sorted(candidate_replicas, key=lambda r: str(r.replica_id))
        self._turn += 1
        return [[ordered[self._turn % len(ordered)]]]
