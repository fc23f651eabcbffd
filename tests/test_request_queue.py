"""The queue's pick order and aging, on a virtual clock."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from multai_core.engine.request_queue import Policy, RequestQueue


def drain(queue: RequestQueue[str], loaded: list[str], now: float) -> list[str]:
    out = []
    while (item := queue.pop(loaded=loaded, now=now)) is not None:
        out.append(item)
    return out


def test_thesis_levels() -> None:
    q: RequestQueue[str] = RequestQueue()
    for name, priority, model in [
        ("a", 2, "x"),
        ("b", 1, "y"),
        ("c", 1, "x"),
        ("d", 0, "y"),
        ("e", 1, "x"),
        ("f", 0, "x"),
    ]:
        q.push(name, priority=priority, model=model, now=0)
    assert drain(q, ["x"], now=1) == ["d", "f", "c", "e", "b", "a"]


def test_priority_one_ages_past_affinity() -> None:
    q: RequestQueue[str] = RequestQueue(aging_s={1: 30})
    q.push("old-unloaded", priority=1, model="y", now=0)
    q.push("new-loaded", priority=1, model="x", now=40)
    assert q.pop(loaded=["x"], now=41) == "old-unloaded"


def test_priority_two_ages_ahead_of_one() -> None:
    q: RequestQueue[str] = RequestQueue(aging_s={2: 120})
    q.push("background", priority=2, model="x", now=0)
    q.push("normal", priority=1, model="x", now=100)
    assert q.pop(loaded=[], now=110) == "normal"
    q.push("normal-2", priority=1, model="x", now=115)
    assert q.pop(loaded=[], now=121) == "background"


def test_remove_is_lazy_and_len_is_exact() -> None:
    q: RequestQueue[str] = RequestQueue()
    keys = [q.push(str(i), priority=i % 3, model="m", now=0) for i in range(9)]
    assert q.remove(keys[0]) and not q.remove(keys[0])
    assert len(q) == 8
    assert "0" not in drain(q, ["m"], now=0)
    assert len(q) == 0


def test_comparison_policies() -> None:
    """FIFO and the thesis's queue, kept for comparisons (bench/), as the config can choose."""
    rows = [
        ("a", 2, "x"),
        ("b", 1, "y"),
        ("c", 1, "x"),
        ("d", 0, "y"),
        ("e", 2, "y"),
        ("f", 2, "x"),
    ]

    def order(policy: str) -> list[str]:
        q: RequestQueue[str] = RequestQueue(policy=policy)  # type: ignore[arg-type]
        for name, priority, model in rows:
            q.push(name, priority=priority, model=model, now=0)
        return drain(q, ["x"], now=1000)  # long past every aging bound

    assert order("fifo") == ["a", "b", "c", "d", "e", "f"]
    assert order("thesis") == ["d", "c", "b", "a", "e", "f"]  # no aging, priority 2 by arrival
    # all past their bounds: p2 "a" is older than every p1, then age order
    assert order("multai") == ["d", "a", "b", "c", "e", "f"]


def test_a_due_request_for_a_loaded_model_goes_first_only_within_the_bound() -> None:
    """Within ``horizon`` of its bound a request for a loaded model may still go before an
    older due one (no swap); once the older one has overstayed its bound, it goes first, so
    an overloaded loaded model cannot hold it back indefinitely."""
    q: RequestQueue[str] = RequestQueue(aging_s={1: 30})
    q.push("old-unloaded", priority=1, model="y", now=0)
    for i in range(3):
        q.push(f"loaded-{i}", priority=1, model="x", now=1 + i)
    assert q.pop(loaded=["x"], now=25, horizon=10) == "loaded-0"  # both due, none overstayed
    assert q.pop(loaded=["x"], now=30, horizon=10) == "old-unloaded"  # overstayed its 30 s


def _reference_pop(
    waiting: dict[int, tuple[int, str, float]],
    policy: str,
    aging: dict[int, float],
    *,
    loaded: list[str],
    now: float,
    may_start: Callable[[str], bool],
    horizon: float,
    costs: Callable[[str], tuple[float, float]] | None,
) -> int | None:
    """The pick order as the module's docstring states it, by scanning every waiting request."""
    live = {seq: w for seq, w in waiting.items() if may_start(w[1])}
    if not live:
        return None
    if policy == "fifo":
        return min(live)
    if policy == "thesis":
        costs, aging = None, {0: math.inf, 1: math.inf, 2: math.inf}

    def heads(priority: int) -> dict[str, int]:
        out: dict[str, int] = {}
        for seq, (p, model, _) in sorted(live.items()):
            if p == priority:
                out.setdefault(model, seq)
        return out

    if heads(0):
        return min(heads(0).values())
    h1, h2 = heads(1), heads(2)
    if h2:
        oldest = min(h2.values())
        if live[oldest][2] <= now - aging[2] + horizon and (not h1 or oldest < min(h1.values())):
            return oldest
    priority, level = (1, h1) if h1 else (2, h2)
    first = min(level.values())
    if policy == "thesis" and priority == 2:
        return first
    due_before = now - aging[priority] + horizon
    affine = min((seq for model, seq in level.items() if model in loaded), default=None)
    if live[first][2] <= now - aging[priority]:
        return first
    if live[first][2] <= due_before:
        return affine if affine is not None and live[affine][2] <= due_before else first
    if affine is not None or costs is None:
        return affine if affine is not None else first

    def rate(model: str) -> float:
        n = sum(1 for p, m, _ in waiting.values() if (p, m) == (priority, model))
        load_s, service_s = costs(model)
        return n / max(load_s + n * service_s, 1e-9)

    return max(level.items(), key=lambda kv: (rate(kv[0]), -kv[1]))[1]


@pytest.mark.parametrize("policy", ["multai", "thesis", "fifo"])
def test_picks_as_a_full_scan_would(policy: Policy) -> None:
    """Random pushes, removals and pops (loaded models, models that may not start, costs,
    horizons) against a reference that scans every waiting request: same pick every time."""
    rng = random.Random(7)
    models = ["a", "b", "c", "d"]
    aging = {1: 30.0, 2: 120.0}
    for _ in range(150):
        q: RequestQueue[int] = RequestQueue(aging, policy=policy)
        waiting: dict[int, tuple[int, str, float]] = {}
        now, pushed = 0.0, -1
        for _ in range(120):
            now += rng.uniform(0, 4)
            op = rng.random()
            if op < 0.5:
                priority, model = rng.choice((0, 1, 1, 2, 2)), rng.choice(models)
                pushed += 1
                seq = q.push(pushed, priority=priority, model=model, now=now)
                assert seq == pushed  # items are their own sequence numbers
                waiting[seq] = (priority, model, now)
            elif op < 0.6 and waiting:
                key = rng.choice([*waiting, -1])
                assert q.remove(key) == (waiting.pop(key, None) is not None)
            else:
                startable = set(rng.sample(models, rng.randint(1, 4)))
                table = {m: (rng.choice((0.0, 6.0, 20.0)), rng.uniform(0.5, 3)) for m in models}
                kwargs: dict[str, Any] = {
                    "loaded": rng.sample(models, rng.randint(0, 2)),
                    "now": now,
                    "horizon": rng.choice((0.0, 7.0)),
                    "costs": rng.choice((None, table.__getitem__)),
                }
                if len(startable) < 4:
                    kwargs["may_start"] = startable.__contains__
                expected = _reference_pop(
                    waiting, policy, aging, **({"may_start": startable.__contains__} | kwargs)
                )
                assert q.peek(**kwargs) == expected
                if expected is not None and rng.random() < 0.5:
                    assert q.take(expected) == expected
                else:
                    assert q.pop(**kwargs) == expected
                if expected is not None:
                    del waiting[expected]
            assert len(q) == len(waiting)
            for p in (0, 1, 2):
                assert q.depth(p) == sum(1 for w in waiting.values() if w[0] == p)
            for m in models:
                assert q.waiting_for(m) == sum(1 for w in waiting.values() if w[1] == m)
            loaded = models[:2]
            assert q.positions(loaded) == {seq: q.position(seq, loaded) for seq in waiting}


def test_requests_taken_out_of_order_do_not_pile_up() -> None:
    """Affinity takes requests from the middle of the arrival order; what they leave behind is
    dropped, so the queue's memory follows what waits, not what passed through it."""
    q: RequestQueue[int] = RequestQueue(policy="thesis")  # no aging: "old" waits forever
    q.push(-1, priority=1, model="unloaded", now=0)
    for i in range(10_000):
        q.push(i, priority=1, model="loaded", now=i)
        assert q.pop(loaded=["loaded"], now=i) == i
    for i in range(10_000):
        q.remove(q.push(i, priority=1, model="loaded", now=i))
    assert len(q) == 1
    assert (
        sum(len(d) for d in q._order) + sum(len(d) for level in q._by_model for d in level.values())
        <= 200
    )
    assert q.pop(loaded=["loaded"], now=0) == -1
