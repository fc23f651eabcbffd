"""The queue's pick order and aging, on a virtual clock."""

from __future__ import annotations

from multai_core.request_queue import RequestQueue


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
    rows = [("a", 2, "x"), ("b", 1, "y"), ("c", 1, "x"), ("d", 0, "y"), ("e", 2, "y"), ("f", 2, "x")]

    def order(policy: str) -> list[str]:
        q: RequestQueue[str] = RequestQueue(policy=policy)  # type: ignore[arg-type]
        for name, priority, model in rows:
            q.push(name, priority=priority, model=model, now=0)
        return drain(q, ["x"], now=1000)  # long past every aging bound

    assert order("fifo") == ["a", "b", "c", "d", "e", "f"]
    assert order("thesis") == ["d", "c", "b", "a", "e", "f"]  # no aging, priority 2 by arrival
    # all due: p2 "a" is older than every p1; among due p1, the loaded model's first (no swap)
    assert order("multai") == ["d", "a", "c", "b", "e", "f"]
