"""The waiting requests: the thesis's priority levels with model affinity, plus aging.

Pick order, among requests whose model may start now (the scheduler says which may):
- priority 0: arrival order, always first;
- a priority 2 request that is due (its wait plus ``horizon``, the longest a job may take, has
  reached its aging bound) is served like priority 1: before the priority-1 requests younger
  than it;
- priority 1: a request past its aging bound, oldest first; else the oldest due request (a due
  one for a loaded model first: it costs no swap);
  else the oldest request for a loaded model (no swap); else the model whose waiting requests
  make the swap pay best: the most requests served per second, n / (load_s + n * service_s),
  from the costs the scheduler measured; ties by age;
- priority 2: as priority 1, after it.
Sequence numbers only grow, so every queue here is already sorted: per priority one deque in
arrival order and one per model. Push is O(1); pop is O(1) amortized plus a look at the head of
each loaded model (and, for a swap or when some model may not start, of each model with waiting
requests: a handful, not n). Removal is lazy: a sequence number that has left ``_entries`` is
dropped when it reaches the front, and a deque that is mostly such numbers is rebuilt.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterator
from typing import Any, Generic, Literal, NamedTuple, TypeVar

T = TypeVar("T")

# per waiting request: (priority, model, enqueued_at, item)
_Entry = tuple[int, str, float, T]
Costs = Callable[[str], tuple[float, float]]
Policy = Literal["multai", "thesis", "fifo"]


def _always(_: str) -> bool:
    return True


def _rank(seq: int, entry: _Entry[T], loaded: Collection[str]) -> tuple[int, int, int]:
    return entry[0], 0 if entry[1] in loaded else 1, seq


class Pick(NamedTuple):
    """What a policy is asked with: the models resident now, the time, which models may start,
    the longest a job may take and the measured (load_s, service_s) of a model."""

    loaded: Collection[str]
    now: float
    may_start: Callable[[str], bool]
    horizon: float
    costs: Costs | None


class QueuePolicy:
    """How the next request is chosen among those that may start: the rules in this module's
    docstring. A policy reads the queue's per-priority and per-model order through its
    ``_first``, ``_pick_affine`` and ``_heads``; a new one subclasses this and overrides
    ``choose`` (and ``aging`` if it ignores the configured aging bounds)."""

    def aging(self, configured: dict[int, float]) -> dict[int, float]:
        return configured

    def choose(self, queue: RequestQueue[Any], pick: Pick) -> tuple[int, int] | None:
        """(priority, sequence number) of the next request, or None."""
        may_start, depth = pick.may_start, queue._depth
        if depth[0] and (first := queue._first(0, may_start)) is not None:
            return 0, first
        first_1 = queue._first(1, may_start) if depth[1] else None
        first_2 = queue._first(2, may_start) if depth[2] else None
        if (
            first_2 is not None
            and (first_1 is None or first_2 < first_1)
            and queue._entries[first_2][2] <= pick.now - queue.aging_s[2] + pick.horizon
        ):
            return 2, first_2  # a due priority-2 request competes with 1 by age
        priority, first = (1, first_1) if first_1 is not None else (2, first_2)
        if first is None:
            return None
        return priority, self.pick(queue, priority, first, pick)

    def pick(self, queue: RequestQueue[Any], priority: int, first: int, pick: Pick) -> int:
        """Within one priority, ``first`` being its oldest request that may start."""
        return queue._pick_affine(priority, first, pick)


class ThesisPolicy(QueuePolicy):
    """The 2024 thesis's queue, for comparison: no aging, no swap costs, priority 2 in
    arrival order."""

    def aging(self, configured: dict[int, float]) -> dict[int, float]:  # noqa: ARG002
        return {0: float("inf"), 1: float("inf"), 2: float("inf")}

    def choose(self, queue: RequestQueue[Any], pick: Pick) -> tuple[int, int] | None:
        return super().choose(queue, pick._replace(costs=None))

    def pick(self, queue: RequestQueue[Any], priority: int, first: int, pick: Pick) -> int:
        return first if priority == 2 else super().pick(queue, priority, first, pick)


class FifoPolicy(QueuePolicy):
    """Arrival order, priorities ignored: the baseline."""

    def choose(self, queue: RequestQueue[Any], pick: Pick) -> tuple[int, int] | None:
        firsts = [(queue._first(p, pick.may_start), p) for p in (0, 1, 2) if queue._depth[p]]
        oldest = min(((s, p) for s, p in firsts if s is not None), default=None)
        return None if oldest is None else (oldest[1], oldest[0])


POLICIES: dict[str, QueuePolicy] = {
    "multai": QueuePolicy(),
    "thesis": ThesisPolicy(),
    "fifo": FifoPolicy(),
}


class RequestQueue(Generic[T]):
    """``policy``: a :class:`QueuePolicy` or the name of one: "multai" (the above), "thesis"
    or "fifo" (the last two exist for comparison)."""

    def __init__(
        self, aging_s: dict[int, float] | None = None, policy: Policy | QueuePolicy = "multai"
    ) -> None:
        self.policy = POLICIES[policy] if isinstance(policy, str) else policy
        self.aging_s = self.policy.aging({0: float("inf"), 1: 30.0, 2: 120.0} | (aging_s or {}))
        self._next = 0
        self._entries: dict[int, _Entry[T]] = {}
        self._order: tuple[deque[int], ...] = (deque(), deque(), deque())
        self._by_model: tuple[dict[str, deque[int]], ...] = ({}, {}, {})
        # per model: removed requests still in its deque (taken ones leave it at once)
        self._removed: tuple[dict[str, int], ...] = ({}, {}, {})
        self._depth = [0, 0, 0]

    def __len__(self) -> int:
        return len(self._entries)

    def depth(self, priority: int) -> int:
        return self._depth[priority]

    def push(self, item: T, *, priority: int, model: str, now: float) -> int:
        seq = self._next
        self._next = seq + 1
        self._entries[seq] = (priority, model, now, item)
        self._depth[priority] += 1
        self._order[priority].append(seq)
        waiting = self._by_model[priority].get(model)
        if waiting is None:
            self._by_model[priority][model] = deque((seq,))
        else:
            waiting.append(seq)
        return seq

    def remove(self, key: int) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        priority, model = entry[0], entry[1]
        self._depth[priority] -= 1
        self._removed[priority][model] = self._removed[priority].get(model, 0) + 1
        self._compact_if_sparse(priority)
        return True

    def waiting_for(self, model: str) -> int:
        """How many requests wait for this model, at any priority (safe to call from another
        thread: a count that is a moment old)."""
        return sum(
            len(level.get(model, ())) - self._removed[p].get(model, 0)
            for p, level in enumerate(self._by_model)
        )

    def take(self, key: int) -> T | None:
        """Take the request peek() returned (the oldest of its model at its priority), or
        None if it is no longer waiting."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        priority, model = entry[0], entry[1]
        if self._by_model[priority][model][0] != key and self._head(priority, model) != key:
            self.remove(key)  # not a head after all: fall back to lazy removal
            return entry[3]
        return self._take(priority, key)

    def items(self) -> Iterator[T]:
        return (entry[3] for entry in self._entries.values())

    def position(self, key: int, loaded: Collection[str]) -> int | None:
        """How many waiting requests would be picked before this one if nothing changed
        (0 = next): by priority, a loaded model first, then age. O(n): for status pages."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        mine = _rank(key, entry, loaded)
        return sum(1 for seq, other in self._entries.items() if _rank(seq, other, loaded) < mine)

    def positions(self, loaded: Collection[str]) -> dict[int, int]:
        """position() of every waiting request at once, O(n log n)."""
        ranked = sorted(self._entries, key=lambda seq: _rank(seq, self._entries[seq], loaded))
        return {seq: i for i, seq in enumerate(ranked)}

    def pop(
        self,
        *,
        loaded: Collection[str],
        now: float,
        may_start: Callable[[str], bool] = _always,
        horizon: float = 0.0,
        costs: Costs | None = None,
    ) -> T | None:
        """The next request to run, taken from the queue, or None. ``costs(model)`` gives
        (load_s, service_s)."""
        choice = self._choose(loaded, now, may_start, horizon, costs)
        return None if choice is None else self._take(*choice)

    def peek(
        self,
        *,
        loaded: Collection[str],
        now: float,
        may_start: Callable[[str], bool] = _always,
        horizon: float = 0.0,
        costs: Costs | None = None,
    ) -> T | None:
        """What pop would return, left in the queue."""
        choice = self._choose(loaded, now, may_start, horizon, costs)
        return None if choice is None else self._entries[choice[1]][3]

    def _choose(
        self,
        loaded: Collection[str],
        now: float,
        may_start: Callable[[str], bool],
        horizon: float,
        costs: Costs | None,
    ) -> tuple[int, int] | None:
        """(priority, sequence number) of the next request, or None."""
        return self.policy.choose(self, Pick(loaded, now, may_start, horizon, costs))

    def _pick_affine(self, priority: int, first: int, pick: Pick) -> int:
        """``first``: the oldest request that may start; one enqueued at or before ``bound``
        has waited its aging bound, one enqueued at or before ``bound + horizon`` is due."""
        loaded, horizon, may_start, costs = pick.loaded, pick.horizon, pick.may_start, pick.costs
        bound = pick.now - self.aging_s[priority]  # one enqueued before this has overstayed
        entries, by_model = self._entries, self._by_model[priority]
        first_at = entries[first][2]
        if first_at <= bound:
            return first
        affine = None  # the oldest request for a loaded model
        for model in loaded:
            waiting = by_model.get(model)
            if waiting is None:
                continue
            head = waiting[0] if waiting[0] in entries else self._head(priority, model)
            if (
                head is not None
                and (affine is None or head < affine)
                and (may_start is _always or may_start(model))
            ):
                affine = head
        if first_at <= bound + horizon:
            # a due request for a loaded model costs no swap: it may go first, while the oldest
            # is still within its bound
            if affine is not None and entries[affine][2] <= bound + horizon:
                return affine
            return first
        if affine is not None:
            return affine
        if costs is None:
            return first
        heads = self._heads(priority, may_start)
        return max(heads, key=lambda h: (self._rate(priority, h[1], costs), -h[0]))[0]

    def _first(self, priority: int, may_start: Callable[[str], bool]) -> int | None:
        """The oldest live request at this priority whose model may start."""
        order, entries = self._order[priority], self._entries
        while order and order[0] not in entries:
            order.popleft()
        if not order:
            return None
        if may_start is _always or may_start(entries[order[0]][1]):
            return order[0]
        return min(self._heads(priority, may_start), default=(None,))[0]

    def _head(self, priority: int, model: str) -> int | None:
        waiting = self._by_model[priority].get(model)
        if waiting is None:
            return None
        entries = self._entries
        if waiting[0] not in entries:
            while waiting and waiting[0] not in entries:
                waiting.popleft()
                self._removed[priority][model] -= 1
            if not waiting:
                del self._by_model[priority][model]
                return None
        return waiting[0]

    def _heads(self, priority: int, may_start: Callable[[str], bool]) -> list[tuple[int, str]]:
        """(oldest request, model) of each model with waiting requests that may start."""
        heads = []
        for model in list(self._by_model[priority]):
            head = self._head(priority, model)
            if head is not None and may_start(model):
                heads.append((head, model))
        return heads

    def _take(self, priority: int, seq: int) -> T:
        entry = self._entries.pop(seq)
        self._depth[priority] -= 1
        model = entry[1]
        waiting = self._by_model[priority][model]
        while waiting.popleft() != seq:  # what is before it was removed
            self._removed[priority][model] -= 1
        if not waiting:
            del self._by_model[priority][model]
        order = self._order[priority]
        if order[0] == seq:
            order.popleft()
        elif len(order) > 64 + 4 * self._depth[priority]:
            self._compact(priority)
        return entry[3]

    def _compact_if_sparse(self, priority: int) -> None:
        if len(self._order[priority]) > 64 + 4 * self._depth[priority]:
            self._compact(priority)

    def _compact(self, priority: int) -> None:
        """Rebuild this priority's deques: taken or removed requests are most of them
        (requests taken out of arrival order stay in ``_order`` until they reach its front)."""
        order, entries = self._order[priority], self._entries
        live = [seq for seq in order if seq in entries]
        order.clear()
        order.extend(live)
        by_model: dict[str, deque[int]] = {}
        for seq in live:
            by_model.setdefault(entries[seq][1], deque()).append(seq)
        self._by_model[priority].clear()
        self._by_model[priority].update(by_model)
        self._removed[priority].clear()

    def _rate(self, priority: int, model: str, costs: Costs) -> float:
        """Requests per second a swap to this model would serve."""
        waiting = self._by_model[priority][model]
        n = len(waiting) - self._removed[priority].get(model, 0)
        load_s, service_s = costs(model)
        return n / max(load_s + n * service_s, 1e-9)
