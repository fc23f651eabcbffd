"""A server-wide budget for decoded media (image pixels, audio seconds) in flight.

A request reserves what its media will decode to, measured from the file headers, before
anything is decoded: beyond the budget it is a 429 (retry later), and a request that could never
fit is a 400. What a request reserved is given back once the decoded data is dropped: each part
of a reservation is attached to the object that holds the decoded data (a decoded image, or the
job that carries the audio), and returns to the budget when that object is garbage.

That return is handed to a thread of its own. A holder in a reference cycle (a job kept by an
exception's traceback) is freed by the cyclic collector, which runs wherever an allocation
happens to trigger it: inside ``ThreadPoolExecutor.submit`` or this module's own critical
sections, with their non-reentrant locks held. A finalizer that took those locks there (to
count the amount back, or to submit the memory trim) would deadlock that thread, and on the
event loop the whole server. The finalizer only puts the amount on a ``queue.SimpleQueue``,
whose ``put`` is reentrant for exactly this use."""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from multai_core.plugin_api.errors import InvalidRequest, QueueFull

RETRY_AFTER_S = 1.0


@dataclass(frozen=True)
class BudgetTerms:
    """How a budget names itself in its errors."""

    what: str  # "decoded image pixels"
    unit: str  # "pixels"
    setting: str  # "max_decode_pixels_in_flight"


class DecodeBudget:
    """A thread-safe amount in flight, at most ``limit``; ``on_release`` runs after every
    release (outside the lock) with the amount given back."""

    def __init__(
        self,
        limit: float,
        terms: BudgetTerms,
        on_release: Callable[[float], None] | None = None,
    ) -> None:
        self.limit = limit
        self.terms = terms
        self.on_release = on_release
        self._in_flight = 0.0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> float:
        _count_back_given()
        with self._lock:
            return self._in_flight

    def reserve(self, amount: float, param: str | None = None) -> Lease:
        """A lease on ``amount``; a 429 while the budget is taken, a 400 if it never fits."""
        _count_back_given()  # what the collector freed just now counts before the verdict
        terms = self.terms
        if amount > self.limit:
            raise InvalidRequest(
                f"The request's media decode to {amount:g} {terms.unit}, more than this server "
                f"decodes at once for all requests ({self.limit:g} {terms.unit}, "
                f"[server] {terms.setting}): send less.",
                param=param,
                code="decode_budget_exceeded",
            )
        with self._lock:
            if self._in_flight + amount > self.limit:
                busy = True
            else:
                busy = False
                self._in_flight += amount
        if busy:
            raise QueueFull(
                f"The server is decoding as many {terms.what} as it allows at once "
                f"({self.limit:g} {terms.unit}, [server] {terms.setting}); retry shortly.",
                code="decode_budget_busy",
                retry_after=RETRY_AFTER_S,
            )
        return Lease(self, amount)

    def _release(self, amount: float) -> None:
        if amount <= 0:
            return
        with self._lock:
            self._in_flight = max(0.0, self._in_flight - amount)
        if self.on_release is not None:
            self.on_release(amount)


class Lease:
    """A reservation; parts of it go to the objects that hold the decoded data (``attach``),
    the rest returns with ``close`` (call it in a ``finally``)."""

    def __init__(self, budget: DecodeBudget, amount: float) -> None:
        self._budget = budget
        self._left = amount
        self._lock = threading.Lock()

    def attach(self, holder: object, amount: float) -> None:
        """Give ``amount`` back when ``holder`` is garbage (it must support weak references)."""
        with self._lock:
            amount = min(amount, self._left)
            self._left -= amount
        _start_releaser()
        weakref.finalize(holder, _GIVEN_BACK.put, (self._budget, amount))

    def close(self) -> None:
        """Give back what no holder took."""
        with self._lock:
            amount, self._left = self._left, 0.0
        self._budget._release(amount)


_GIVEN_BACK: queue.SimpleQueue[tuple[DecodeBudget, float]] = queue.SimpleQueue()
_releaser_lock = threading.Lock()
_releaser: threading.Thread | None = None


def _count_back_given() -> None:
    """Count back, on this thread, whatever finalizers have given back so far."""
    while True:
        try:
            budget, amount = _GIVEN_BACK.get_nowait()
        except queue.Empty:
            return
        budget._release(amount)


def _release_forever() -> None:
    while True:
        budget, amount = _GIVEN_BACK.get()
        budget._release(amount)


def _start_releaser() -> None:
    global _releaser
    with _releaser_lock:
        if _releaser is None or not _releaser.is_alive():
            _releaser = threading.Thread(
                target=_release_forever, name="multai-media-release", daemon=True
            )
            _releaser.start()
