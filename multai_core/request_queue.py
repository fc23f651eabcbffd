"""The waiting requests: the thesis's priority levels with model affinity, plus aging.

Pick order, among requests whose model may start now (the scheduler says which may):
- priority 0: arrival order, always first;
- a priority 2 request that is due (its wait plus ``horizon``, the longest a job may take, has
  reached its aging bound) is served like priority 1;
- priority 1: the oldest due request (a due one for a loaded model first: it costs no swap);
  else the oldest request for a loaded model (no swap);
  else the model whose waiting requests make the swap pay best: the most requests served per
  second, n / (load_s + n * service_s), from the costs the scheduler measured; ties by age;
- priority 2: as priority 1, after it.
Requests wait in one heap per (priority, model), so push and pop are O(log n) plus a look at the
head of each model's heap (the models with waiting requests: a handful, not n). Removal is lazy.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Collection, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class _Entry(Generic[T]):
    __slots__ = ("enqueued_at", "item", "live", "model", "priority", "seq")

    def __init__(self, seq: int, priority: int, model: str, enqueued_at: float, item: T) -> None:
        self.seq = seq
        self.priority = priority
        self.model = model
        self.enqueued_at = enqueued_at
        self.item = item
        self.live = True


_Heap = list[tuple[int, _Entry[T]]]


def _always(_: str) -> bool:
    return True


class RequestQueue(Generic[T]):
    def __init__(self, aging_s: dict[int, float] | None = None) -> None:
        self.aging_s = {0: float("inf"), 1: 30.0, 2: 120.0} | (aging_s or {})
        self._seq = itertools.count()
        self._heaps: dict[int, dict[str, _Heap[T]]] = {0: {}, 1: {}, 2: {}}
        self._entries: dict[int, _Entry[T]] = {}
        self._depth = {0: 0, 1: 0, 2: 0}
        self._count: dict[tuple[int, str], int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def depth(self, priority: int) -> int:
        return self._depth[priority]

    def push(self, item: T, *, priority: int, model: str, now: float) -> int:
        entry = _Entry(next(self._seq), priority, model, now, item)
        self._entries[entry.seq] = entry
        self._depth[priority] += 1
        self._count[(priority, model)] = self._count.get((priority, model), 0) + 1
        heapq.heappush(self._heaps[priority].setdefault(model, []), (entry.seq, entry))
        return entry.seq

    def remove(self, key: int) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        entry.live = False
        self._depth[entry.priority] -= 1
        key_count = (entry.priority, entry.model)
        self._count[key_count] -= 1
        if not self._count[key_count]:
            del self._count[key_count]
        return True

    def items(self) -> Iterator[T]:
        return (e.item for e in self._entries.values())

    def position(self, key: int, loaded: Collection[str]) -> int | None:
        """How many waiting requests would be picked before this one if nothing changed
        (0 = next). O(n): for status pages, not for scheduling."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        rank = self._rank(loaded)
        mine = rank(entry)
        return sum(1 for other in self._entries.values() if rank(other) < mine)

    def _rank(self, loaded: Collection[str]) -> Callable[[_Entry[T]], tuple[int, int, int]]:
        def rank(e: _Entry[T]) -> tuple[int, int, int]:
            return (e.priority, 0 if e.model in loaded else 1, e.seq)

        return rank

    def _heads(self, priority: int, may_start: Callable[[str], bool]) -> list[_Entry[T]]:
        heads = []
        for model, heap in list(self._heaps[priority].items()):
            while heap and not heap[0][1].live:
                heapq.heappop(heap)
            if not heap:
                del self._heaps[priority][model]
            elif may_start(model):
                heads.append(heap[0][1])
        return heads

    def _take(self, entry: _Entry[T]) -> T:
        heap = self._heaps[entry.priority][entry.model]
        heapq.heappop(heap)
        if not heap:
            del self._heaps[entry.priority][entry.model]
        self.remove(entry.seq)
        return entry.item

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

        def oldest(entries: list[_Entry[T]]) -> _Entry[T] | None:
            return min(entries, key=lambda e: e.seq) if entries else None

        def due(entry: _Entry[T]) -> bool:
            return now - entry.enqueued_at + horizon >= self.aging_s[entry.priority]

        first = oldest(self._heads(0, may_start))
        if first is not None:
            return self._take(first)
        oldest_p2 = oldest(self._heads(2, may_start))
        if oldest_p2 is not None and due(oldest_p2):
            return self._take(oldest_p2)
        for priority in (1, 2):
            chosen = self._pick_level(priority, may_start, loaded, due, costs)
            if chosen is not None:
                return self._take(chosen)
        return None

    def _pick_level(
        self,
        priority: int,
        may_start: Callable[[str], bool],
        loaded: Collection[str],
        due: Callable[[_Entry[T]], bool],
        costs: Callable[[str], tuple[float, float]] | None,
    ) -> _Entry[T] | None:
        heads = self._heads(priority, may_start)
        if not heads:
            return None
        first = min(heads, key=lambda e: e.seq)
        affine = [e for e in heads if e.model in loaded]
        first_affine = min(affine, key=lambda e: e.seq) if affine else None
        if due(first):
            # a due request for the loaded model costs no swap: serve it first
            return first_affine if first_affine is not None and due(first_affine) else first
        if first_affine is not None:
            return first_affine
        if costs is None:
            return first
        return max(heads, key=lambda e: (self._rate(e, costs), -e.seq))

    def _rate(self, entry: _Entry[T], costs: Callable[[str], tuple[float, float]]) -> float:
        """Requests per second a swap to this entry's model would serve."""
        n = self._count.get((entry.priority, entry.model), 1)
        load_s, service_s = costs(entry.model)
        return n / max(load_s + n * service_s, 1e-9)
