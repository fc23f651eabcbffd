"""One choice of a text generation: tokens -> text pieces -> deltas, with its finish reason."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from multai_core.errors import InvalidRequest
from multai_core.results import TextDelta
from multai_llamacpp.engine import ThreadOverride, generate
from multai_llamacpp.handle import LlamaHandle
from multai_llamacpp.logprobs import PieceCache
from multai_llamacpp.outputs import Output
from multai_llamacpp.sampling import Sampler, SamplingConfig


@dataclass
class Plan:
    prompt: list[int]
    stops: list[str]
    max_new_tokens: int
    sampling: SamplingConfig
    top_logprobs: int | None
    n_threads: int | None
    n: int = 1
    seeded: bool = False


@dataclass
class Counter:
    completion_tokens: int = 0
    cancelled: bool = False
    finish_reasons: list[str] = field(default_factory=list)


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
    if plan.seeded:
        return (plan.sampling.seed + index) & 0xFFFFFFFF
    return random.getrandbits(32)


def run_choice(
    handle: LlamaHandle,
    plan: Plan,
    *,
    index: int,
    output: Output,
    cancel: threading.Event,
    counter: Counter,
    pieces: PieceCache | None = None,
) -> Iterator[TextDelta]:
    """Yield one choice's deltas, the last carrying its finish reason. Caller holds the lock."""
    from multai_llamacpp.textstream import TextAssembler

    assembler = TextAssembler(plan.stops)
    sampler = Sampler(handle.llama, replace(plan.sampling, seed=choice_seed(plan, index)))
    threads = ThreadOverride(handle, plan.n_threads)
    finish = "length"
    try:
        steps = generate(
            handle,
            plan.prompt,
            sampler,
            max_new_tokens=plan.max_new_tokens,
            cancel=cancel,
            top_logprobs=plan.top_logprobs,
            pieces=pieces,
        )
        try:
            for step in steps:
                if step.eog:
                    finish = "stop"
                    break
                counter.completion_tokens += 1
                piece = assembler.push(step.piece, step.logprob)
                yield from output.feed(piece)
                if assembler.stopped:
                    finish = "stop"
                    break
        finally:
            steps.close()
    finally:
        threads.restore()
        sampler.close()
    if cancel.is_set():
        counter.cancelled = True
        return
    yield from output.feed(assembler.finish())
    yield from output.finish(finish == "stop")
    if finish == "stop" and output.calls:
        finish = "tool_calls"
    counter.finish_reasons.append(finish)
    yield TextDelta(index=index, finish_reason=finish)
