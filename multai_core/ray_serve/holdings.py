"""What each engine replica last said it holds, as the relay heard it at the end of a job: the
router of the same ingress process reads it before the routing stats, which arrive seconds
later (Serve's controller polls them, then passes them on)."""

from __future__ import annotations

import time

from multai_core.ray_serve.work import Holding

FRESH_S = 10.0
"""How long a replica's own word counts; the routing stats rule after that."""

_latest: dict[str, tuple[frozenset[str], float]] = {}


def heard(holding: Holding) -> None:
    _latest[holding.replica] = (frozenset(holding.models), time.monotonic())


def latest(replica: str) -> tuple[frozenset[str], float] | None:
    """The models ``replica`` said it holds and when (monotonic), if within FRESH_S."""
    found = _latest.get(replica)
    if found is None or time.monotonic() - found[1] > FRESH_S:
        return None
    return found


def forget() -> None:
    """For tests."""
    _latest.clear()
