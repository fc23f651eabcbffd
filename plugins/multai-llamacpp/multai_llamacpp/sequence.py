"""One choice in generation: what a request hands the slot engine, and what comes back.

The request's thread builds a :class:`Sequence` and reads its events; the engine's thread
owns everything else on it (the sampler, the slot, positions) until it sends ``Finished``."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from multai_core.plugin_api import TokenLogprob

if TYPE_CHECKING:
    from multai_llamacpp.sampling import Sampler
    from multai_llamacpp.slots import Slot


@dataclass(frozen=True)
class Step:
    token: int
    piece: bytes
    eog: bool
    logprob: TokenLogprob | None = None


@dataclass(frozen=True)
class Finished:
    """The sequence's last event: after end-of-generation, its token limit, a stop or cancel,
    or with the error that ended it."""

    error: BaseException | None = None


Event = tuple[int, Step | Finished]
"""(choice index, what happened)"""


@dataclass(eq=False)
class Sequence:
    index: int
    prompt: list[int]
    sampler: Sampler
    max_new_tokens: int
    events: queue.SimpleQueue[Event]
    cancel: threading.Event
    priority: int = 1
    top_logprobs: int | None = None
    """None: no logprobs; 0: the chosen token's only."""
    n_threads: int | None = None
    after: Sequence | None = None
    """Another choice of the same prompt: start once it has evaluated the prompt, from a copy
    of its cache (n > 1 evaluates the prompt once)."""
    stopped: bool = False
    """Set by the request's thread: a stop sequence matched, or it stopped reading."""

    # the engine's state
    order: int = 0
    admitted_at: float = 0.0
    slot: Slot | None = None
    pending: list[int] = field(default_factory=list)
    """Prompt tokens still to evaluate."""
    n_past: int = 0
    """Tokens in this sequence's KV cache."""
    last_token: int | None = None
    """Sampled, not yet in the cache."""
    generated: int = 0
    cached_tokens: int = 0
    """Prompt tokens reused from a slot's cache (set before the first step is sent)."""
    finished: bool = False

    @property
    def prompt_done(self) -> bool:
        """In a slot with its whole prompt in the cache."""
        return self.slot is not None and not self.pending

    def emit(self, event: Step | Finished) -> None:
        self.events.put((self.index, event))
