"""Parallel slots and the prompt cache with the real model, through the hooks: requests that
run at once share decode steps and stay independent; a prompt that starts with what a slot
holds evaluates only the rest, with the same greedy text as a cold run."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import jsonschema
import msgspec
from conftest import SYSTEM, Collected, collect, run, start

from multai_core.plugin_api import TextDelta, Usage

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
LONG_SYSTEM = {
    "role": "system",
    "content": "You are a careful assistant for a hospital's records office. Answer briefly, "
    "in plain English, without lists, and never invent names, dates or numbers that the "
    "user did not give you. If you do not know, say so.",
}


def ask(question: str, system: dict[str, str] = SYSTEM) -> list[dict[str, str]]:
    return [system, {"role": "user", "content": question}]


def run_together(pm: Any, handle: Any, bodies: list[dict[str, Any]]) -> list[Collected]:
    """Start every request at once, each in its own thread, as the scheduler would."""
    results: list[Collected | None] = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def one(i: int) -> None:
        barrier.wait()
        results[i] = run(pm, handle, "chat", bodies[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def test_concurrent_requests_share_steps_and_stay_independent(pm, handle):
    bodies: list[dict[str, Any]] = [
        {"messages": ask("What is the capital of France?"), "temperature": 0, "max_tokens": 24},
        {
            "messages": ask("Name a fruit."),
            "temperature": 0.9,
            "top_k": 20,
            "seed": 11,
            "max_tokens": 24,
        },
        {
            "messages": ask("Describe the sea."),
            "temperature": 0.7,
            "top_p": 0.8,
            "min_p": 0.1,
            "presence_penalty": 0.5,
            "seed": 5,
            "max_tokens": 24,
        },
        {
            "messages": ask("Invent a person."),
            "temperature": 0,
            "max_tokens": 60,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": PERSON},
            },
        },
        {
            "messages": ask("Say something kind."),
            "temperature": 1.0,
            "seed": 3,
            "max_tokens": 24,
            "logprobs": True,
            "top_logprobs": 2,
        },
    ]
    alone = [run(pm, handle, "chat", body) for body in bodies]
    before = handle.engine_stats()
    together = run_together(pm, handle, bodies)
    after = handle.engine_stats()
    # more sequences than decode calls: the requests were batched
    assert (
        after.decoded_sequences - before.decoded_sequences
        > after.decode_steps - before.decode_steps
    )
    for solo, batched in zip(alone, together, strict=True):
        assert batched.finish[0] in ("stop", "length")
        # the same seed (or greedy) gives the same text alone and in a batch
        assert batched.text == solo.text
    jsonschema.validate(json.loads(together[3].text), PERSON)
    assert len(together[4].logprobs[0]) == together[4].usage.completion_tokens  # type: ignore[union-attr]
    assert after.slots_active == 0


def test_a_cancelled_request_leaves_the_others_unharmed(pm, handle):
    bodies = [
        {"messages": ask(q), "temperature": 0, "max_tokens": 20}
        for q in ("What is the capital of Italy?", "Name a colour.", "What is two plus two?")
    ]
    alone = [run(pm, handle, "chat", body) for body in bodies]
    cancel = threading.Event()
    long_body = {"messages": ask("Write a very long story."), "temperature": 0, "max_tokens": 200}
    items: list[Any] = []

    def cancelled_stream() -> None:
        for item in start(pm, handle, "chat", long_body, cancel=cancel):
            items.append(item)
            if sum(isinstance(i, TextDelta) and bool(i.text) for i in items) == 3:
                cancel.set()

    thread = threading.Thread(target=cancelled_stream)
    thread.start()
    together = run_together(pm, handle, bodies)
    thread.join(timeout=60)
    assert [c.text for c in together] == [c.text for c in alone]
    assert isinstance(items[-1], Usage) and items[-1].completion_tokens <= 4
    assert not any(isinstance(i, TextDelta) and i.finish_reason for i in items)


def test_the_next_turn_reuses_the_cached_conversation(pm, handle):
    first_turn = ask("Name three animals that live in the sea.", LONG_SYSTEM)
    answer = run(pm, handle, "chat", {"messages": first_turn, "temperature": 0, "max_tokens": 30})
    second_turn = [
        *first_turn,
        {"role": "assistant", "content": answer.text},
        {"role": "user", "content": "Which of them is the largest?"},
    ]
    body = {"messages": second_turn, "temperature": 0, "max_tokens": 30}
    warm = run(pm, handle, "chat", body)
    assert warm.usage is not None and answer.usage is not None
    # the whole first turn came from the cache (its answer too, up to the template's markers)
    assert warm.usage.cached_tokens >= answer.usage.prompt_tokens
    handle.engine.forget()
    cold = run(pm, handle, "chat", body)
    assert cold.usage is not None and cold.usage.cached_tokens == 0
    assert warm.text == cold.text


def test_n_choices_evaluate_the_prompt_once(pm, handle):
    handle.engine.forget()
    messages = ask("What is the capital of Spain?", LONG_SYSTEM)
    single = run(pm, handle, "chat", {"messages": messages, "temperature": 0, "max_tokens": 16})
    handle.engine.forget()
    out = run(
        pm, handle, "chat", {"messages": messages, "temperature": 0, "max_tokens": 16, "n": 3}
    )
    # the later choices start from a copy of the first one's cache: same greedy text
    assert [out.texts[i] for i in range(3)] == [single.text] * 3
    held = [tokens for tokens in handle.engine.cached_tokens() if tokens]
    assert len(held) == 3
    prompt_tokens = out.usage.prompt_tokens  # type: ignore[union-attr]
    assert all(len(tokens) >= prompt_tokens - 1 for tokens in held)


def test_a_prefix_held_by_a_busy_slot_is_copied(pm, handle):
    handle.engine.forget()
    messages = ask("Tell me about the history of paper.", LONG_SYSTEM)
    cold = run(pm, handle, "chat", {"messages": messages, "temperature": 0, "max_tokens": 12})
    cancel = threading.Event()
    busy = start(
        pm, handle, "chat", {"messages": messages, "temperature": 0, "max_tokens": 300}, cancel
    )
    next(busy)  # the slot that holds the prompt is busy generating
    try:
        warm = run(pm, handle, "chat", {"messages": messages, "temperature": 0, "max_tokens": 12})
    finally:
        cancel.set()
        collect(busy)
    assert warm.usage is not None and warm.usage.cached_tokens >= warm.usage.prompt_tokens - 1
    assert warm.text == cold.text


def test_when_slots_are_full_the_most_urgent_request_goes_next(pm, handle):
    """n = 4 fills the four slots; a priority-2 request, then a priority-0 one, wait for the
    next free slot (the scheduler would run no more than four; n > 1 can still overfill)."""
    blocker = {"messages": ask("Count to one hundred."), "max_tokens": 40, "n": 4, "seed": 1}
    first_token: dict[str, float] = {}

    def timed(name: str, body: dict[str, Any]) -> None:
        for item in start(pm, handle, "chat", body):
            if isinstance(item, TextDelta) and item.text and name not in first_token:
                first_token[name] = time.monotonic()

    threads = [threading.Thread(target=timed, args=("blocker", blocker))]
    threads[0].start()
    while "blocker" not in first_token:
        time.sleep(0.01)
    for name, priority in (("background", 2), ("urgent", 0)):
        body = {"messages": ask("Say yes."), "max_tokens": 4, "priority": priority}
        threads.append(threading.Thread(target=timed, args=(name, body)))
        threads[-1].start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=120)
    assert first_token["urgent"] < first_token["background"]


def test_slots_are_configured_and_checked(backend, spec):
    import pytest
    from multai_llamacpp.options import parse_options

    assert backend.concurrency(spec) == 4  # the default
    assert backend.concurrency(msgspec.structs.replace(spec, max_concurrency=2)) == 2
    with_option = msgspec.structs.replace(spec, options={"n_parallel": 6}, max_concurrency=2)
    assert backend.concurrency(with_option) == 6
    with pytest.raises(ValueError, match="n_parallel"):
        parse_options({"n_parallel": 0})
