"""What travels between the ingress and an engine replica."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from multai_core.plugin_api.errors import MultaiError
from multai_core.plugin_api.tasks import Task
from multai_core.plugin_api.types import ModelSpec

DEFAULT_GROUP = ""
"""The engine replicas that serve every model no ``[[ray.groups]]`` entry names."""
HEAD_NODE = "node:__internal_head__"
"""A resource only Ray's head node has."""
RESIDENT = "resident"
"""Routing stats key: the models a replica holds in memory now."""
FREE_BYTES = "free_bytes"
"""Routing stats key: the memory a replica could still load into (RAM plus GPU)."""


@dataclass(frozen=True)
class RemoteWork:
    """One job for a replica: the task and the model spec the ingress resolved, with the
    caller's priority and key (its owner id), so the replica's queue orders it as the ingress
    would, and the chat's conversation digest (``affinity.conversation_of``), which the router
    reads when it chooses a replica and again when it records the choice."""

    task: Task
    spec: ModelSpec
    priority: int
    gpu_layers: int | None
    owner: str
    conversation: str | None = None
    avoid: tuple[str, ...] = ()
    """Replicas (full ids) that refused it with a 503 (a model they could not load, no room):
    the router tries the others first."""


@dataclass(frozen=True)
class RemoteError:
    """A MultaiError the replica's engine raised, carried as an item so that its status, code
    and parameter reach the client unchanged (Ray would wrap a raised one in its own)."""

    error: MultaiError
    replica: str = ""
    """The full id of the replica whose engine raised it."""


@dataclass(frozen=True)
class Holding:
    """A replica's last item for each job: the models it holds once the job is done. The
    ingress's router trusts it over the routing stats, which Serve's controller polls and
    passes on seconds later."""

    replica: str
    """The replica's full id (``ReplicaID.to_full_id_str()``)."""
    models: tuple[str, ...]


def group_of(spec: ModelSpec, groups: Mapping[str, str]) -> str:
    """The replica group that serves ``spec``: ``groups`` maps model names and aliases to the
    group naming them; a model none names is the default group's."""
    for name in (spec.name, *spec.aliases):
        if name in groups:
            return groups[name]
    return DEFAULT_GROUP
