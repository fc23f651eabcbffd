"""The waiting requests: the thesis's priority levels with model affinity, plus aging.

Pick order, among requests whose model may start now (the scheduler says which may):
- priority 0: arrival order, always first;
- a priority 2 request that has waited past its aging bound is served like priority 1;
- priority 1: a request for a loaded model first (the oldest such), unless the oldest
  priority-1 request has waited past its aging bound; then arrival order;
- priority 2: arrival order.
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

    def __len__(self) -> int:
        return len(self._entries)

    def depth(self, priority: int) -> int:
        return self._depth[priority]

    def push(self, item: T, *, priority: int, model: str, now: float) -> int:
        entry = _Entry(next(self._seq), priority, model, now, item)
        self._entries[entry.seq] = entry
        self._depth[priority] += 1
        heapq.heappush(self._heaps[priority].setdefault(model, []), (entry.seq, entry))
        return entry.seq

    def remove(self, key: int) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        entry.live = False
        self._depth[entry.priority] -= 1
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
    ) -> T | None:
        def oldest(entries: list[_Entry[T]]) -> _Entry[T] | None:
            return min(entries, key=lambda e: e.seq) if entries else None

        first = oldest(self._heads(0, may_start))
        if first is not None:
            return self._take(first)
        oldest_p2 = oldest(self._heads(2, may_start))
        if oldest_p2 is not None and now - oldest_p2.enqueued_at >= self.aging_s[2]:
            return self._take(oldest_p2)
        heads_p1 = self._heads(1, may_start)
        oldest_p1 = oldest(heads_p1)
        if oldest_p1 is not None:
            if now - oldest_p1.enqueued_at < self.aging_s[1]:
                affine = oldest([e for e in heads_p1 if e.model in loaded])
                if affine is not None:
                    return self._take(affine)
            return self._take(oldest_p1)
        if oldest_p2 is not None:
            return self._take(oldest_p2)
        return None
