"""Parallel slots: one thread per loaded model decodes every active sequence in one llama.cpp
batch per step (continuous batching, as llama.cpp's server does).

Each slot is a llama.cpp sequence id with a KV-cache stream of its own (``n_ctx`` cells). A
slot keeps the tokens its cache holds after its sequence ends, so the next turn of the same
conversation, a retried request or another choice of the same prompt evaluates only what is
new. A sequence takes the free slot that keeps most of its prompt while destroying least of
what other conversations left there (least recently used on a tie); when another slot holds a
longer prefix of the prompt, that slot's cache is copied over first. Sequences waiting for a
slot start in priority order, then in arrival order. Each step feeds the last sampled token of
every generating sequence, then fills the batch up to ``n_batch`` with prompt tokens of the
sequences still reading their prompt, so new requests join at the next step."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from multai_core.plugin_api import EngineStats, ServiceUnavailable
from multai_llamacpp.batch import TokenBatch
from multai_llamacpp.logprobs import PieceCache, log_softmax, logits_at, token_logprob
from multai_llamacpp.sequence import Finished, Sequence, Step

if TYPE_CHECKING:
    import llama_cpp

GATHER_S = 0.003
GATHER_MAX_S = 0.02
"""Requests sent together reach the engine a few milliseconds apart (each is parsed, queued and
templated in Python first). Before it starts on a new prompt the engine waits until no request
has come for GATHER_S (at most GATHER_MAX_S), so that their prompts share one batch: on a CPU a
bigger batch reads the weights fewer times per token."""
MIN_COPY_TOKENS = 32
"""A cache copy between slots moves a whole stream; for a shorter gain evaluating is cheaper."""


@dataclass(eq=False)
class Slot:
    seq_id: int
    tokens: list[int] = field(default_factory=list)
    """What this slot's KV cache holds, from position 0."""
    sequence: Sequence | None = None
    last_used: float = 0.0


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _slot_id(seq: Sequence) -> int:
    assert seq.slot is not None
    return seq.slot.seq_id


class SlotEngine:
    def __init__(
        self,
        llama: llama_cpp.Llama,
        *,
        n_slots: int,
        n_batch: int,
        n_threads: int,
        n_threads_batch: int,
    ) -> None:
        import llama_cpp as lib

        self._lib = lib
        self._llama = llama
        self._ctx = llama.ctx
        self._memory = lib.llama_get_memory(self._ctx)
        self._vocab = lib.llama_model_get_vocab(llama.model)
        self._n_vocab = int(llama.n_vocab())
        self._pieces = PieceCache(llama)
        self.slots = [Slot(i) for i in range(n_slots)]
        self._n_batch = max(1, n_batch)
        self._batch = TokenBatch(max(self._n_batch, n_slots))
        self._max_threads = n_threads
        self._threads_batch = n_threads_batch
        self._threads_now = n_threads
        self._cond = threading.Condition()
        self._waiting: list[Sequence] = []
        self._active: list[Sequence] = []
        self._order = itertools.count()
        self._closing = False
        self._last_submit = 0.0
        self.decode_steps = 0
        self.decoded_sequences = 0
        self._thread = threading.Thread(target=self._run, name="multai-llamacpp-slots", daemon=True)
        self._thread.start()

    # -- the requests' side ------------------------------------------------------------------

    def submit(self, sequences: list[Sequence]) -> None:
        with self._cond:
            if self._closing:
                raise ServiceUnavailable("the model was unloaded")
            self._last_submit = time.monotonic()
            for seq in sequences:
                seq.order = next(self._order)
                self._waiting.append(seq)
            self._waiting.sort(key=lambda s: (s.priority, s.order))
            self._cond.notify()

    def wake(self) -> None:
        """A sequence was stopped or cancelled: free its slot now rather than after a step."""
        with self._cond:
            self._cond.notify()

    def stats(self) -> EngineStats:
        return EngineStats(
            slots_total=len(self.slots),
            slots_active=sum(1 for s in self.slots if s.sequence is not None),
            decode_steps=self.decode_steps,
            decoded_sequences=self.decoded_sequences,
        )

    def cached_tokens(self) -> list[list[int]]:
        """What each slot's cache holds (tests and benchmarks)."""
        with self._cond:
            return [list(s.tokens) for s in self.slots]

    def forget(self) -> None:
        """Drop the cache of every idle slot (benchmarks that measure cold prompts)."""
        with self._cond:
            for slot in self.slots:
                if slot.sequence is None and slot.tokens:
                    self._lib.llama_memory_seq_rm(self._memory, slot.seq_id, -1, -1)
                    slot.tokens = []

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()
        self._batch.close()

    # -- the engine's thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    self._retire()
                    while not (self._closing or self._active or self._waiting):
                        self._cond.wait()
                    if self._closing:
                        return
                    self._admit()
                    members = list(self._active)
                    if not members:  # only choices waiting for another's prompt
                        self._cond.wait(0.01)
                        continue
                    if self._gathering(members):
                        self._cond.wait(GATHER_S)
                        continue
                try:
                    self._step(members)
                except Exception as exc:  # the request sees it; the engine goes on
                    self._fail(members, exc)
        finally:
            with self._cond:
                self._closing = True  # also after an unexpected error: later requests get a 503
                gone = ServiceUnavailable("the model was unloaded")
                for seq in [*self._waiting, *self._active]:
                    self._finish(seq, gone)
                    self._release(seq)
                self._waiting.clear()
                self._active.clear()

    def _gathering(self, members: list[Sequence]) -> bool:
        now = time.monotonic()
        fresh = [s.admitted_at for s in members if s.n_past == s.cached_tokens and s.pending]
        return (
            bool(fresh) and now - self._last_submit < GATHER_S and now - min(fresh) < GATHER_MAX_S
        )

    def _retire(self) -> None:
        for seq in [s for s in self._waiting if s.stopped or s.cancel.is_set()]:
            self._waiting.remove(seq)
            self._finish(seq)
            self._release(seq)
        for seq in [s for s in self._active if s.finished or s.stopped or s.cancel.is_set()]:
            self._active.remove(seq)
            self._finish(seq)
            self._release(seq)

    def _finish(self, seq: Sequence, error: BaseException | None = None) -> None:
        if not seq.finished:
            seq.finished = True
            seq.emit(Finished(error))

    def _release(self, seq: Sequence) -> None:
        if seq.slot is not None:
            seq.slot.sequence = None
            seq.slot.last_used = time.monotonic()
            seq.slot = None
        seq.sampler.close()

    def _admit(self) -> None:
        free = [s for s in self.slots if s.sequence is None]
        for seq in list(self._waiting):
            if not free:
                return
            after = seq.after
            if after is not None and not (after.prompt_done or after.finished):
                continue
            self._waiting.remove(seq)
            if seq.max_new_tokens <= 0:
                self._finish(seq)
                self._release(seq)
                continue
            # what each slot holds of this prompt, by seq id
            held = [common_prefix(s.tokens, seq.prompt) for s in self.slots]
            # the prompt tokens a slot saves minus the cached tokens it destroys; LRU on ties
            slot = max(free, key=lambda s: (2 * held[s.seq_id] - len(s.tokens), -s.last_used))
            free.remove(slot)
            self._place(seq, slot, held)
            self._active.append(seq)

    def _place(self, seq: Sequence, slot: Slot, held: list[int]) -> None:
        """Put ``seq`` in ``slot``: keep (or copy in) the longest cached prefix of its prompt,
        leaving at least one prompt token to evaluate for fresh logits."""
        lib, memory, prompt = self._lib, self._memory, seq.prompt
        kept = held[slot.seq_id]
        donor = max(
            (s for s in self.slots if s is not slot), key=lambda s: held[s.seq_id], default=None
        )
        if donor is not None:
            offered = min(held[donor.seq_id], len(prompt) - 1)
            if offered >= kept + MIN_COPY_TOKENS:
                lib.llama_memory_seq_cp(memory, donor.seq_id, slot.seq_id, -1, -1)
                slot.tokens = list(donor.tokens)
                kept = offered
        reuse = min(kept, len(prompt) - 1)
        if reuse < len(slot.tokens) and not lib.llama_memory_seq_rm(memory, slot.seq_id, reuse, -1):
            lib.llama_memory_seq_rm(memory, slot.seq_id, -1, -1)  # a model that cannot trim
            reuse = 0
        slot.tokens = slot.tokens[:reuse]
        slot.sequence = seq
        seq.slot = slot
        seq.n_past = reuse
        seq.cached_tokens = reuse
        seq.pending = prompt[reuse:]
        seq.admitted_at = time.monotonic()

    def _step(self, members: list[Sequence]) -> None:
        fed = [s for s in members if s.prompt_done and s.last_token is not None]
        budget = self._n_batch - len(fed)
        reading: list[tuple[Sequence, int]] = []
        for seq in members:  # prompt tokens in admission order, up to n_batch in all
            if seq.prompt_done or budget <= 0:
                continue
            # The last prompt token goes alone, as a generation step does: llama.cpp's kernels
            # round differently for a many-token batch, and a prompt found in the cache also
            # evaluates its last token alone, so cold and cached prompts give the same logits.
            n = min(budget, len(seq.pending) - 1) if len(seq.pending) > 1 else 1
            reading.append((seq, n))
            budget -= n
        # In slot order: with a KV stream per slot, llama.cpp splits a batch into micro-batches
        # of consecutive sequence ids, so any other order costs extra passes over the weights.
        batch = self._batch
        batch.clear()
        outputs: list[tuple[Sequence, int]] = []
        taken = {id(seq): n for seq, n in reading}
        for seq in sorted([*fed, *(s for s, _ in reading)], key=_slot_id):
            seq_id = _slot_id(seq)
            if seq.prompt_done:
                assert seq.last_token is not None
                outputs.append((seq, batch.add(seq.last_token, seq.n_past, seq_id, True)))
                continue
            n = taken[id(seq)]
            completes = n == len(seq.pending)
            for k, token in enumerate(seq.pending[:n]):
                index = batch.add(token, seq.n_past + k, seq_id, completes and k == n - 1)
            if completes:
                outputs.append((seq, index))
        if batch.n_tokens == 0:
            return
        self._set_threads(members)
        status = self._lib.llama_decode(self._ctx, batch.raw)
        if status != 0:
            raise RuntimeError(f"llama_decode failed (status {status})")
        self.decode_steps += 1
        self.decoded_sequences += len(fed) + len(reading)
        for seq in fed:
            assert seq.slot is not None and seq.last_token is not None
            seq.slot.tokens.append(seq.last_token)
            seq.n_past += 1
            seq.last_token = None
        for seq, n in reading:
            assert seq.slot is not None
            seq.slot.tokens.extend(seq.pending[:n])
            seq.n_past += n
            seq.pending = seq.pending[n:]
        for seq, index in outputs:
            try:
                self._sample(seq, index)
            except Exception as exc:  # this sequence's sampler failed; the others go on
                self._fail([seq], exc)

    def _sample(self, seq: Sequence, index: int) -> None:
        lib = self._lib
        logprobs = None
        if seq.top_logprobs is not None:
            logprobs = log_softmax(logits_at(self._ctx, index, self._n_vocab))
        token = seq.sampler.sample(self._ctx, index)
        eog = bool(lib.llama_vocab_is_eog(self._vocab, token))
        piece = b"" if eog else self._pieces.piece(token)
        lp = None
        if logprobs is not None and not eog:
            lp = token_logprob(logprobs, token, piece, seq.top_logprobs or 0, self._pieces)
        seq.generated += 1
        seq.emit(Step(token=token, piece=piece, eog=eog, logprob=lp))
        if eog or seq.generated >= seq.max_new_tokens:
            self._finish(seq)
        else:
            seq.last_token = token

    def _set_threads(self, members: list[Sequence]) -> None:
        """A request may ask for fewer threads; a step serves all, so the fewest asked win."""
        asked = [s.n_threads for s in members if s.n_threads is not None]
        n = max(1, min([self._max_threads, *asked]))
        if n != self._threads_now:
            self._lib.llama_set_n_threads(self._ctx, n, min(n, self._threads_batch))
            self._threads_now = n

    def _fail(self, members: list[Sequence], error: BaseException) -> None:
        """A failed decode leaves the members' caches in an unknown state: empty them."""
        for seq in members:
            if seq.slot is not None:
                self._lib.llama_memory_seq_rm(self._memory, seq.slot.seq_id, -1, -1)
                seq.slot.tokens = []
            self._finish(seq, error)
