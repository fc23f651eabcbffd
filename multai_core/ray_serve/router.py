"""Routing by model: a Serve request router (``RequestRouterConfig``) for the engine replicas.

A request carries its model as Serve's ``multiplexed_model_id``. The router sends it to a
replica that holds that model (from what the replica said at the end of its last job, else its
routing stats, which come seconds late; and from the requests the router itself sent there
since) or to one that holds nothing; Serve picks the least busy of those, so a model in
demand spreads to idle replicas. The next turn of a chat goes back to the replica that served
the conversation, whose prompt cache holds its history, unless that replica is busier than the
others. A replica that answered a request 503 (``RemoteWork.avoid``) is left out when it is sent
again, unless no other is left.

Where no replica holds the model or is empty, the model goes where it displaces the least: to
the replica whose models the fewest other callers (API keys) are using now, then to the one
whose models were asked for longest ago (most free memory breaks ties), so that two groups of
users on two models each keep their replica. Each replica's memory manager still decides loads
and evictions by bytes; Serve's multiplexing (a count of models per replica, evicted by LRU) is
not used. Serve sends to the first rank with room, then tries the next."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ray.serve.request_router import (
    PendingRequest,
    ReplicaID,
    RequestRouter,
    RunningReplica,
)

from multai_core.ray_serve import holdings
from multai_core.ray_serve.affinity import Recent
from multai_core.ray_serve.work import FREE_BYTES, RESIDENT, RemoteWork

SENT_MEMORY_S = 2.0
"""How long the router trusts its own record of where it sent a model over the replicas'
stats, which arrive every ``request_routing_stats_period_s``."""
IN_USE_S = 300.0
"""How long a caller's last request counts as the model it is using."""
STICKY_SLACK = 2
"""Requests in flight a conversation's replica may have beyond the least busy candidate's
and still get the next turn: a prompt evaluated again costs more than a short wait."""


class ModelAffinityRouter(RequestRouter):
    def initialize_state(self, **kwargs: Any) -> None:  # noqa: ARG002 (Serve's signature)
        self._sent: dict[str, tuple[ReplicaID, float]] = {}
        self._asked: dict[str, float] = {}  # model -> when a request last asked for it
        self._using: Recent[tuple[str, float]] = Recent()  # caller -> (model, when)
        self._served: Recent[ReplicaID] = Recent()  # conversation -> its last replica

    async def choose_replicas(
        self,
        candidate_replicas: list[RunningReplica],
        pending_request: PendingRequest | None = None,
    ) -> list[list[RunningReplica]]:
        model = pending_request.metadata.multiplexed_model_id if pending_request else ""
        work = _work_of(pending_request)
        conversation = work.conversation if work is not None else None
        candidates = not_refused(candidate_replicas, work.avoid if work is not None else ())
        told = {r.replica_id: holdings.latest(r.replica_id.to_full_id_str()) for r in candidates}
        ranks = rank(
            candidates,
            model,
            self._holdings(told),
            self._asked,
            told={r: found[0] for r, found in told.items() if found is not None},
            in_use=self._in_use(besides=work.owner if work is not None else None),
            sticky=self._served.get(conversation) if conversation else None,
            queue_len=self.replica_queue_len_cache.get,
        )
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
        now = time.monotonic()
        if model:
            self._sent[model] = (replica_id, now)
        work = _work_of(pending_request)
        if work is None:
            return
        self._using.set(work.owner, (work.spec.name, now))
        if work.conversation:
            self._served.set(work.conversation, replica_id)

    def _holdings(
        self, told: dict[ReplicaID, tuple[frozenset[str], float] | None]
    ) -> dict[ReplicaID, set[str]]:
        """The models this router sent to each replica within SENT_MEMORY_S, after the replica
        last said what it holds."""
        now = time.monotonic()
        held: dict[ReplicaID, set[str]] = {}
        for model, (replica, at) in self._sent.items():
            said = told.get(replica)
            if now - at <= SENT_MEMORY_S and (said is None or at > said[1]):
                held.setdefault(replica, set()).add(model)
        return held

    def _in_use(self, besides: str | None) -> dict[str, int]:
        """How many callers, other than ``besides``, asked for each model last (within
        IN_USE_S): the table is read newest first up to the first caller gone quiet, so a
        request costs the callers active now, not all those remembered."""
        now = time.monotonic()
        users: dict[str, int] = {}
        for caller, (model, at) in self._using.newest_first():
            if now - at > IN_USE_S:
                break
            if caller != besides:
                users[model] = users.get(model, 0) + 1
        return users


def _work_of(pending_request: PendingRequest | None) -> RemoteWork | None:
    args = pending_request.args if pending_request is not None else []
    return args[0] if args and isinstance(args[0], RemoteWork) else None


def not_refused(replicas: list[RunningReplica], avoid: tuple[str, ...]) -> list[RunningReplica]:
    """The replicas that have not answered this request 503 (``avoid``: full ids); all of them
    when every one has, since what made them refuse may have passed."""
    return [r for r in replicas if r.replica_id.to_full_id_str() not in avoid] or replicas


def rank(
    replicas: list[RunningReplica],
    model: str,
    sent: dict[ReplicaID, set[str]],
    asked: dict[str, float],
    *,
    told: dict[ReplicaID, frozenset[str]] | None = None,
    in_use: dict[str, int] | None = None,
    sticky: ReplicaID | None = None,
    queue_len: Callable[[ReplicaID], int | None] = lambda _: None,
) -> list[list[RunningReplica]]:
    """Ranks: the conversation's own replica (``sticky``), when it holds ``model`` and is not
    busier than the others by more than STICKY_SLACK; the replicas holding ``model`` and those
    holding nothing; then each other replica alone, the one whose models the fewest other
    callers are using (``in_use``) first, then the one whose models were asked for longest
    ago, then the one with the most free memory. A replica holds what it last ``told`` the
    relay, else what its routing stats say, and what was ``sent`` to it since."""
    using = in_use or {}
    said = told or {}

    def models_on(replica: RunningReplica) -> set[str]:
        stats = replica.routing_stats or {}
        held = said.get(replica.replica_id)
        base = set(held) if held is not None else set(stats.get(RESIDENT, ()))
        return base | sent.get(replica.replica_id, set())

    def displaces(replica: RunningReplica) -> tuple[int, float, int]:
        held = models_on(replica)
        last_asked = max((asked.get(m, 0.0) for m in held), default=-1.0)
        free = int((replica.routing_stats or {}).get(FREE_BYTES, 0))
        return sum(using.get(m, 0) for m in held), last_asked, -free

    first = [r for r in replicas if not models_on(r) or (model and model in models_on(r))]
    others = sorted((r for r in replicas if r not in first), key=displaces)
    ranks = ([first] if first else []) + [[r] for r in others]
    own = next((r for r in first if r.replica_id == sticky and model in models_on(r)), None)
    if own is None or len(first) == 1:
        return ranks
    busy = [n for n in (queue_len(r.replica_id) for r in first) if n is not None]
    own_busy = queue_len(own.replica_id)
    if own_busy is not None and busy and own_busy > min(busy) + STICKY_SLACK:
        return ranks
    return [[own], [r for r in first if r is not own], *ranks[1:]]


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
