"""The choices of one request: each a sequence handed to the model's slot engine, whose tokens
become text pieces and deltas here, in the request's thread, each choice ending with its finish
reason."""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from multai_core.plugin_api import InvalidRequest, TextDelta
from multai_llamacpp.handle import LlamaHandle
from multai_llamacpp.outputs import Output
from multai_llamacpp.sampling import Sampler, SamplingConfig
from multai_llamacpp.sequence import Event, Sequence, Step
from multai_llamacpp.textstream import TextAssembler

POLL_S = 0.1
"""How often a request waiting for its next token looks at its cancel flag."""


@dataclass
class Plan:
    prompt: list[int]
    stops: list[str]
    """The task's stop strings: the one that ends a choice is its TextDelta.stop_sequence."""
    max_new_tokens: int
    sampling: SamplingConfig
    top_logprobs: int | None
    n_threads: int | None
    n: int = 1
    priority: int = 1
    end_of_turn: list[str] = field(default_factory=list)
    """A chat template's own stop strings: they end the turn, and are never reported."""


@dataclass
class Counter:
    completion_tokens: int = 0
    cached_tokens: int = 0
    cancelled: bool = False
    finish_reasons: list[str] = field(default_factory=list)


@dataclass
class ChoiceRequest:
    index: int
    plan: Plan
    output: Output


@dataclass(eq=False)
class _Choice:
    sequence: Sequence
    output: Output
    assembler: TextAssembler
    stops: list[str]
    finish: str = "length"


def context_check(handle: LlamaHandle, n_prompt: int, param: str) -> int:
    """Tokens left for the answer; a 400 when the prompt alone fills the context."""
    if n_prompt >= handle.n_ctx:
        raise InvalidRequest(
            f"This model's maximum context length is {handle.n_ctx} tokens. However, your "
            f"{param} resulted in {n_prompt} tokens, which leaves no room for an answer.",
            param=param,
            code="context_length_exceeded",
        )
    return handle.n_ctx - n_prompt


def token_budget(handle: LlamaHandle, n_prompt: int, requested: int | None, param: str) -> int:
    """Requested tokens, clamped to what the context has left (the choice then ends with
    finish_reason "length", as llama.cpp's own server does)."""
    room = context_check(handle, n_prompt, param)
    return room if requested is None else min(requested, room)


def choice_seed(plan: Plan, index: int) -> int:
    seed = plan.sampling.params.seed
    if seed is not None:
        return (seed + index) & 0xFFFFFFFF
    return random.getrandbits(32)


def _sequences(
    handle: LlamaHandle,
    requests: list[ChoiceRequest],
    events: queue.SimpleQueue[Event],
    cancel: threading.Event,
) -> dict[int, _Choice]:
    """A sequence per choice; the later choices of a prompt start from the first one's cache."""
    choices: dict[int, _Choice] = {}
    first: dict[int, Sequence] = {}
    try:
        for request in requests:
            plan = request.plan
            sampler = Sampler(handle.llama, plan.sampling, choice_seed(plan, request.index))
            sequence = Sequence(
                index=request.index,
                prompt=plan.prompt,
                sampler=sampler,
                max_new_tokens=plan.max_new_tokens,
                events=events,
                cancel=cancel,
                priority=plan.priority,
                top_logprobs=plan.top_logprobs,
                n_threads=plan.n_threads,
                after=first.get(id(plan)),
            )
            first.setdefault(id(plan), sequence)
            assembler = TextAssembler(plan.stops + plan.end_of_turn)
            choices[request.index] = _Choice(sequence, request.output, assembler, plan.stops)
        handle.engine.submit([c.sequence for c in choices.values()])
    except BaseException:
        for choice in choices.values():
            choice.sequence.sampler.close()
        raise
    return choices


def _finish(choice: _Choice, counter: Counter) -> Iterator[TextDelta]:
    output, finish = choice.output, choice.finish
    yield from output.feed(choice.assembler.finish())
    yield from output.finish(finish == "stop")
    if finish == "stop" and output.calls:
        finish = "tool_calls"
    counter.finish_reasons.append(finish)
    matched = choice.assembler.matched
    stop_sequence = matched if finish == "stop" and matched in choice.stops else None
    yield TextDelta(index=choice.sequence.index, finish_reason=finish, stop_sequence=stop_sequence)


def run_choices(
    handle: LlamaHandle,
    requests: list[ChoiceRequest],
    *,
    cancel: threading.Event,
    counter: Counter,
) -> Iterator[TextDelta]:
    """Yield the choices' deltas as their tokens arrive (choices interleave), each choice's
    last delta carrying its finish reason. A cancelled request gets no finish deltas."""
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    choices = _sequences(handle, requests, events, cancel)
    engine = handle.engine
    running = set(choices)
    try:
        while running and not cancel.is_set():
            try:
                index, event = events.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if index not in running:
                continue  # stopped by a stop sequence already
            choice = choices[index]
            if isinstance(event, Step):
                if event.eog:
                    choice.finish = "stop"
                    continue
                counter.completion_tokens += 1
                piece = choice.assembler.push(event.piece, event.logprob)
                yield from choice.output.feed(piece)
                if not choice.assembler.stopped:
                    continue
                choice.finish = "stop"
                choice.sequence.stopped = True
                engine.wake()
            elif event.error is not None:
                raise event.error
            elif cancel.is_set():
                break
            running.discard(index)
            yield from _finish(choice, counter)
    finally:
        for choice in choices.values():
            choice.sequence.stopped = True
        engine.wake()
        counter.cached_tokens += sum(
            c.sequence.cached_tokens for c in choices.values() if c.sequence.after is None
        )
    if cancel.is_set() and running:
        counter.cancelled = True
