"""The waiting requests: the thesis's priority levels with model affinity, plus aging.

Pick order, among requests whose model may start now (the scheduler says which may):
- priority 0: arrival order, always first;
- a priority 2 request that is due (its wait plus ``horizon``, the longest a job may take, has
  reached its aging bound) is served like priority 1: before the priority-1 requests younger
  than it;
- priority 1: the oldest due request (a due one for a loaded model first: it costs no swap);
  else the oldest request for a loaded model (no swap); else the model whose waiting requests
  make the swap pay best: the most requests served per second, n / (load_s + n * service_s),
  from the costs the scheduler measured; ties by age;
- priority 2: as priority 1, after it.
Requests wait in one heap per (priority, model), so push and pop are O(log n) plus a look at the
head of each model's heap (the models with waiting requests: a handful, not n). Removal is lazy:
a heap entry whose sequence number has left ``_entries`` is skipped when it surfaces.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterator
from typing import Generic, Literal, NamedTuple, TypeVar

T = TypeVar("T")


class _Waiting(NamedTuple):
    priority: int
    model: str
    enqueued_at: float
    item: object


_Head = tuple[int, str, float]  # (seq, model, enqueued_at)


def _always(_: str) -> bool:
    return True


Policy = Literal["multai", "thesis", "fifo"]


class RequestQueue(Generic[T]):
    """``policy``: "multai" (the above), "thesis" (the 2024 thesis's queue: no aging, no swap
    costs, priority 2 in arrival order) or "fifo" (arrival order, priorities ignored); the
    last two exist for comparison."""

    def __init__(self, aging_s: dict[int, float] | None = None, policy: Policy = "multai") -> None:
        self.policy = policy
        self.aging_s = {0: float("inf"), 1: 30.0, 2: 120.0} | (aging_s or {})
        if policy == "thesis":
            self.aging_s = {0: float("inf"), 1: float("inf"), 2: float("inf")}
        self._next = 0
        # per priority: model -> heap of (seq, enqueued_at)
        self._heaps: tuple[dict[str, list[tuple[int, float]]], ...] = ({}, {}, {})
        self._entries: dict[int, _Waiting] = {}
        self._depth = [0, 0, 0]

    def __len__(self) -> int:
        return len(self._entries)

    def depth(self, priority: int) -> int:
        return self._depth[priority]

    def push(self, item: T, *, priority: int, model: str, now: float) -> int:
        seq = self._next
        self._next = seq + 1
        self._entries[seq] = _Waiting(priority, model, now, item)
        self._depth[priority] += 1
        heaps = self._heaps[priority]
        heap = heaps.get(model)
        if heap is None:
            heap = heaps[model] = []
        heapq.heappush(heap, (seq, now))
        return seq

    def remove(self, key: int) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self._depth[entry.priority] -= 1
        return True

    def items(self) -> Iterator[T]:
        return (e.item for e in self._entries.values())  # type: ignore[misc]

    def position(self, key: int, loaded: Collection[str]) -> int | None:
        """How many waiting requests would be picked before this one if nothing changed
        (0 = next). O(n): for status pages, not for scheduling."""
        entry = self._entries.get(key)
        if entry is None:
            return None

        def rank(seq: int, e: _Waiting) -> tuple[int, int, int]:
            return (e.priority, 0 if e.model in loaded else 1, seq)

        mine = rank(key, entry)
        return sum(1 for seq, other in self._entries.items() if rank(seq, other) < mine)

    def _heads(self, priority: int, may_start: Callable[[str], bool]) -> list[_Head]:
        """The oldest live request of each model at this priority whose model may start."""
        if not self._depth[priority]:
            return []
        entries = self._entries
        heads: list[_Head] = []
        emptied = []
        for model, heap in self._heaps[priority].items():
            while heap and heap[0][0] not in entries:
                heapq.heappop(heap)
            if not heap:
                emptied.append(model)
            elif may_start is _always or may_start(model):
                seq, enqueued_at = heap[0]
                heads.append((seq, model, enqueued_at))
        for model in emptied:
            del self._heaps[priority][model]
        return heads

    def _take(self, priority: int, head: _Head) -> T:
        seq, model, _ = head
        heapq.heappop(self._heaps[priority][model])
        entry = self._entries.pop(seq)
        self._depth[priority] -= 1
        return entry.item  # type: ignore[return-value]

    def pop(
        self,
        *,
        loaded: Collection[str],
        now: float,
        may_start: Callable[[str], bool] = _always,
        horizon: float = 0.0,
        costs: Callable[[str], tuple[float, float]] | None = None,
    ) -> T | None:
        """The next request to run, or None. ``costs(model)`` gives (load_s, service_s)."""
        if self.policy == "fifo":
            every = [(h, p) for p in (0, 1, 2) for h in self._heads(p, may_start)]
            return self._take(min(every)[1], min(every)[0]) if every else None
        if self.policy == "thesis":
            costs = None
        heads = self._heads(0, may_start)
        if heads:
            return self._take(0, min(heads))
        heads_p2 = self._heads(2, may_start)
        heads_p1 = self._heads(1, may_start)
        if heads_p2:
            # a due priority-2 request competes with priority 1 by age
            oldest_p2 = min(heads_p2)
            due = oldest_p2[2] <= now - self.aging_s[2] + horizon
            if due and (not heads_p1 or oldest_p2 < min(heads_p1)):
                return self._take(2, oldest_p2)
        for priority, level in ((1, heads_p1), (2, heads_p2)):
            if level:
                due_before = now - self.aging_s[priority] + horizon
                return self._take(priority, self._pick(priority, level, loaded, due_before, costs))
        return None

    def _pick(
        self,
        priority: int,
        heads: list[_Head],
        loaded: Collection[str],
        due_before: float,
        costs: Callable[[str], tuple[float, float]] | None,
    ) -> _Head:
        """``due_before``: a request enqueued at or before this time is due."""
        first = min(heads)
        if len(heads) == 1:
            return first
        affine = min((h for h in heads if h[1] in loaded), default=None)
        if self.policy == "thesis" and priority == 2:
            return first
        if first[2] <= due_before:
            # a due request for the loaded model costs no swap: serve it first
            return affine if affine is not None and affine[2] <= due_before else first
        if affine is not None:
            return affine
        if costs is None:
            return first
        return max(heads, key=lambda h: (self._rate(priority, h[1], costs), -h[0]))

    def _rate(
        self, priority: int, model: str, costs: Callable[[str], tuple[float, float]]
    ) -> float:
        """Requests per second a swap to this model would serve (its heap's length counts
        requests removed but not yet surfaced: close enough for a tie-breaker)."""
        n = len(self._heaps[priority][model])
        load_s, service_s = costs(model)
        return n / max(load_s + n * service_s, 1e-9)
