"""The model-affinity ranking, on replicas as the router sees them, and the conversation a chat
request belongs to."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from ray.serve.request_router import RunningReplica

from multai_core.plugin_api.task_text import ChatTask, Message, TextPart
from multai_core.plugin_api.tasks import Task
from multai_core.ray_serve import holdings
from multai_core.ray_serve.affinity import conversation_of
from multai_core.ray_serve.router import (
    IN_USE_S,
    STICKY_SLACK,
    ModelAffinityRouter,
    not_refused,
    rank,
)
from multai_core.ray_serve.work import FREE_BYTES, RESIDENT, Holding


@dataclass
class Replica:
    replica_id: str
    resident: list[str] = field(default_factory=list)
    free: int = 0

    @property
    def routing_stats(self) -> dict[str, Any]:
        return {RESIDENT: self.resident, FREE_BYTES: self.free}


def ids(ranks: list[list[RunningReplica]]) -> list[list[str]]:
    return [[cast(Replica, r).replica_id for r in group] for group in ranks]


def replicas(*items: Replica) -> list[RunningReplica]:
    return cast(list[RunningReplica], list(items))


def test_the_replicas_holding_the_model_come_first() -> None:
    a, b, c = Replica("a", ["m1"]), Replica("b", ["m2"]), Replica("c", ["m1"])
    assert ids(rank(replicas(a, b, c), "m1", {}, {})) == [["a", "c"], ["b"]]


def test_an_empty_replica_ranks_with_the_holders() -> None:
    # Serve then picks the less busy: a model in demand spreads to an idle replica
    holder, empty = Replica("holder", ["m1"]), Replica("empty")
    assert ids(rank(replicas(holder, empty), "m1", {}, {})) == [["holder", "empty"]]


def test_a_model_just_sent_counts_as_held_before_the_stats_say_so() -> None:
    a, b = Replica("a", ["m2"]), Replica("b")
    assert ids(rank(replicas(a, b), "m1", {cast(Any, "b"): {"m1"}}, {})) == [["b"], ["a"]]


def test_a_new_model_goes_to_an_empty_replica_first() -> None:
    busy, empty = Replica("busy", ["m1"], free=10), Replica("empty", [], free=5)
    assert ids(rank(replicas(busy, empty), "m2", {}, {"m1": 100.0})) == [["empty"], ["busy"]]


def test_a_model_just_sent_makes_its_replica_not_empty() -> None:
    a, b = Replica("a"), Replica("b")
    assert ids(rank(replicas(a, b), "m2", {cast(Any, "a"): {"m1"}}, {})) == [["b"], ["a"]]


def test_else_it_displaces_the_model_asked_for_longest_ago() -> None:
    hot, cold = Replica("hot", ["m1"]), Replica("cold", ["m2"])
    asked = {"m1": 200.0, "m2": 100.0}
    assert ids(rank(replicas(hot, cold), "m3", {}, asked)) == [["cold"], ["hot"]]


def test_most_free_memory_breaks_ties() -> None:
    small, large = Replica("small", ["m1"], free=1), Replica("large", ["m2"], free=9)
    assert ids(rank(replicas(small, large), "m3", {}, {})) == [["large"], ["small"]]


def test_else_it_displaces_the_model_fewest_other_callers_are_using() -> None:
    # the caller asking moved off m1 (it asked for m1 last): m2's user keeps their replica
    left, kept = Replica("left", ["m1"]), Replica("kept", ["m2"])
    asked = {"m1": 200.0, "m2": 100.0}
    ranks = rank(replicas(left, kept), "m3", {}, asked, in_use={"m2": 1})
    assert ids(ranks) == [["left"], ["kept"]]


def test_a_conversation_goes_back_to_its_replica() -> None:
    a, b = Replica("a", ["m1"]), Replica("b", ["m1"])
    sticky = cast(Any, "b")
    assert ids(rank(replicas(a, b), "m1", {}, {}, sticky=sticky)) == [["b"], ["a"]]


def test_unless_its_replica_is_much_busier() -> None:
    a, b = Replica("a", ["m1"]), Replica("b", ["m1"])
    sticky = cast(Any, "b")
    lengths = {"a": 0, "b": STICKY_SLACK}
    ranks = rank(replicas(a, b), "m1", {}, {}, sticky=sticky, queue_len=lengths.get)  # type: ignore[arg-type]
    assert ids(ranks) == [["b"], ["a"]]
    lengths["b"] = STICKY_SLACK + 1
    ranks = rank(replicas(a, b), "m1", {}, {}, sticky=sticky, queue_len=lengths.get)  # type: ignore[arg-type]
    assert ids(ranks) == [["a", "b"]]


def test_or_no_longer_holds_the_model() -> None:
    a, b = Replica("a", ["m1"]), Replica("b", ["m2"])
    assert ids(rank(replicas(a, b), "m1", {}, {}, sticky=cast(Any, "b"))) == [["a"], ["b"]]


def test_a_conversation_is_its_caller_and_opening_turns() -> None:
    def chat(*texts: str) -> Task:
        roles = ["system", "user", "assistant", "user"]
        messages = [
            Message(role=role, content=[TextPart(text=t)])  # type: ignore[arg-type]
            for role, t in zip(roles, texts, strict=False)
        ]
        return Task(id="t", kind="chat", model="m", payload=ChatTask(messages=messages))

    first_turn = conversation_of(chat("Be brief.", "Hi"), "k1")
    assert first_turn == conversation_of(chat("Be brief.", "Hi", "Hello!", "More?"), "k1")
    assert first_turn != conversation_of(chat("Be brief.", "Hi"), "k2")
    assert first_turn != conversation_of(chat("Be brief.", "Hey"), "k1")


def test_what_a_replica_last_told_the_relay_outranks_its_stats() -> None:
    # the stats still show m1, evicted since by a load the replica reported at the job's end
    a, b = Replica("a", ["m1"]), Replica("b", ["m2"])
    told = {cast(Any, "a"): frozenset({"m3"})}
    assert ids(rank(replicas(a, b), "m1", {}, {"m2": 1.0, "m3": 2.0}, told=told)) == [["b"], ["a"]]
    assert ids(rank(replicas(a, b), "m3", {}, {}, told=told)) == [["a"], ["b"]]


def test_a_replica_is_heard_until_its_word_goes_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    holdings.forget()
    holdings.heard(Holding("r1", ("m1",)))
    said = holdings.latest("r1")
    assert said is not None and said[0] == {"m1"}
    assert holdings.latest("r2") is None
    later = time.monotonic() + holdings.FRESH_S + 1
    monkeypatch.setattr(holdings.time, "monotonic", lambda: later)
    assert holdings.latest("r1") is None  # the routing stats rule again
    holdings.forget()


class FullId(str):
    def to_full_id_str(self) -> str:
        return str(self)


def test_a_replica_that_refused_the_request_is_left_out_when_it_is_sent_again() -> None:
    a, b, c = (Replica(FullId(name)) for name in "abc")
    assert ids([not_refused(replicas(a, b, c), ("b",))]) == [["a", "c"]]
    assert ids([not_refused(replicas(a, b), ("a", "b"))]) == [["a", "b"]]  # all did: try again


def test_a_model_is_in_use_by_the_other_callers_heard_from_lately() -> None:
    router = ModelAffinityRouter.__new__(ModelAffinityRouter)  # Serve makes it with a handle
    router.initialize_state()
    now = time.monotonic()
    router._using.set("ann", ("a", now - 2 * IN_USE_S))
    router._using.set("quiet", ("a", now - IN_USE_S - 1))
    router._using.set("bob", ("a", now - 5))
    router._using.set("eve", ("b", now))
    assert router._in_use(besides="eve") == {"a": 1}
    router._using.set("ann", ("b", now))  # back again: she counts, the quiet one still not
    assert router._in_use(besides=None) == {"a": 1, "b": 2}
