"""Routing by model: a Serve request router (``RequestRouterConfig``) for the engine replicas.

A request carries its model as Serve's ``multiplexed_model_id``. The router ranks first the
replicas that hold that model (from the routing stats each replica reports, and from the
requests it has itself just sent there, which the stats do not show yet), then each other
replica in turn, the one with the most free memory first; Serve sends to the first rank with
room. Loads and evictions stay with each replica's memory manager (by bytes); Serve's multiplexing,
which counts models per replica and evicts by LRU, is not used."""

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

SENT_MEMORY_S = 5.0
"""How long the router trusts its own record of where it sent a model over the replicas'
stats, which arrive only every ``request_routing_stats_period_s``."""


class ModelAffinityRouter(RequestRouter):
    def initialize_state(self, **kwargs: Any) -> None:  # noqa: ARG002 (Serve's signature)
        self._sent: dict[str, tuple[ReplicaID, float]] = {}

    async def choose_replicas(
        self,
        candidate_replicas: list[RunningReplica],
        pending_request: PendingRequest | None = None,
    ) -> list[list[RunningReplica]]:
        model = pending_request.metadata.multiplexed_model_id if pending_request else ""
        return rank(candidate_replicas, model, self._recently_sent(model))

    def on_request_routed(
        self,
        pending_request: PendingRequest,
        replica_id: ReplicaID,
        result: Any,  # noqa: ARG002 (Serve's signature)
    ) -> None:
        model = pending_request.metadata.multiplexed_model_id
        if model:
            self._sent[model] = (replica_id, time.monotonic())

    def _recently_sent(self, model: str) -> ReplicaID | None:
        sent = self._sent.get(model)
        if sent is None or time.monotonic() - sent[1] > SENT_MEMORY_S:
            return None
        return sent[0]


def rank(
    replicas: list[RunningReplica], model: str, sent_to: ReplicaID | None
) -> list[list[RunningReplica]]:
    """Ranks: the replicas holding ``model``, then each other replica alone, most free memory
    first."""

    def holds(replica: RunningReplica) -> bool:
        stats = replica.routing_stats or {}
        return model in stats.get(RESIDENT, ()) or replica.replica_id == sent_to

    def free(replica: RunningReplica) -> int:
        return int((replica.routing_stats or {}).get(FREE_BYTES, 0))

    holding = [r for r in replicas if model and holds(r)]
    others = sorted((r for r in replicas if r not in holding), key=free, reverse=True)
    return ([holding] if holding else []) + [[r] for r in others]
