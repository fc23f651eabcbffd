"""The waiting requests: the thesis's priority levels with model affinity, plus aging.

Pick order:
- priority 0: arrival order, always first;
- a priority 2 request that has waited past its aging bound is served like priority 1;
- priority 1: a request for a loaded model first (the oldest such), unless the oldest
  priority-1 request has waited past its aging bound; then arrival order;
- priority 2: arrival order.
Every operation is O(log n) (heaps with lazy deletion); the loaded-model check looks at one
heap per resident model.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
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


class RequestQueue(Generic[T]):
    def __init__(self, aging_s: dict[int, float] | None = None) -> None:
        self.aging_s = {0: float("inf"), 1: 30.0, 2: 120.0} | (aging_s or {})
        self._seq = itertools.count()
        self._by_priority: dict[int, _Heap[T]] = {0: [], 1: [], 2: []}
        self._by_model: dict[tuple[int, str], _Heap[T]] = {}
        self._entries: dict[int, _Entry[T]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def push(self, item: T, *, priority: int, model: str, now: float) -> int:
        entry = _Entry(next(self._seq), priority, model, now, item)
        self._entries[entry.seq] = entry
        heapq.heappush(self._by_priority[priority], (entry.seq, entry))
        heapq.heappush(self._by_model.setdefault((priority, model), []), (entry.seq, entry))
        return entry.seq

    def remove(self, key: int) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        entry.live = False
        return True

    def items(self) -> Iterable[T]:
        return (e.item for e in self._entries.values())

    def _peek(self, heap: _Heap[T]) -> _Entry[T] | None:
        while heap and not heap[0][1].live:
            heapq.heappop(heap)
        return heap[0][1] if heap else None

    def _take(self, entry: _Entry[T]) -> T:
        self.remove(entry.seq)
        key = (entry.priority, entry.model)
        heap = self._by_model.get(key)
        if heap is not None and self._peek(heap) is None:
            del self._by_model[key]
        return entry.item

    def pop(self, *, loaded: Iterable[str], now: float) -> T | None:
        first = self._peek(self._by_priority[0])
        if first is not None:
            return self._take(first)
        oldest_p2 = self._peek(self._by_priority[2])
        if oldest_p2 is not None and now - oldest_p2.enqueued_at >= self.aging_s[2]:
            return self._take(oldest_p2)
        oldest_p1 = self._peek(self._by_priority[1])
        if oldest_p1 is not None:
            if now - oldest_p1.enqueued_at < self.aging_s[1]:
                affine = [
                    e
                    for m in loaded
                    if (heap := self._by_model.get((1, m))) and (e := self._peek(heap)) is not None
                ]
                if affine:
                    return self._take(min(affine, key=lambda e: e.seq))
            return self._take(oldest_p1)
        if oldest_p2 is not None:
            return self._take(oldest_p2)
        return None
