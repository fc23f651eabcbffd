"""The ingress's relay, against stand-in replicas: a replica lost before it answered costs the
request nothing, one lost after it began is a 503, and any other failure still answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest
from ray.exceptions import ActorDiedError
from ray.serve.handle import DeploymentHandle

from multai_core.config import Config
from multai_core.engine.memory import MemoryManager
from multai_core.engine.metrics import Metrics
from multai_core.engine.scheduler import Scheduler
from multai_core.plugin_api.errors import (
    InferenceFailed,
    InsufficientMemory,
    InvalidRequest,
    ServiceUnavailable,
)
from multai_core.plugin_api.task_text import CompletionTask
from multai_core.plugin_api.tasks import Task
from multai_core.plugin_api.types import ModelSpec
from multai_core.ray_serve import relay
from multai_core.ray_serve.relay import RelayScheduler, ReplicaLost
from multai_core.ray_serve.work import Holding, RemoteError, RemoteWork
from multai_core.server.app import build_services

Attempt = Callable[[], AsyncIterator[Any]]


class Stream:
    def __init__(self, items: AsyncIterator[Any]) -> None:
        self._items = items

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._items

    def cancel(self) -> None:
        pass


class Engine:
    """A DeploymentHandle stand-in: each call streams the next attempt's items."""

    def __init__(self, *attempts: Attempt) -> None:
        self.attempts = list(attempts)
        self.calls = 0
        self.sent: list[RemoteWork] = []
        self.run = self

    def options(self, **_: Any) -> Engine:
        return self

    def remote(self, work: RemoteWork) -> Stream:
        assert isinstance(work, RemoteWork)
        self.calls += 1
        self.sent.append(work)
        return Stream(self.attempts.pop(0)())


def dies(after: list[str]) -> Attempt:
    async def items() -> AsyncIterator[Any]:
        for item in after:
            yield item
        raise ActorDiedError()

    return items


def answers(*items: Any) -> Attempt:
    async def stream() -> AsyncIterator[Any]:
        for item in items:
            yield item

    return stream


def fails(error: Exception) -> Attempt:
    async def stream() -> AsyncIterator[Any]:
        raise error
        yield  # an async generator

    return stream


def relay_through(engine: Engine) -> tuple[list[Any], BaseException | None, int]:
    async def go() -> tuple[list[Any], BaseException | None]:
        def relayed(memory: MemoryManager, config: Config, metrics: Metrics) -> Scheduler:
            return RelayScheduler(
                memory, config, metrics, {"": cast(DeploymentHandle[Any], engine)}
            )

        scheduler = build_services(Config(default_models=False), engine=relayed).scheduler
        await scheduler.start()
        task = Task(id="r1", kind="completion", model="m", payload=CompletionTask(prompts=["hi"]))
        job = scheduler.submit(task, ModelSpec(name="m", backend="b"))
        got: list[Any] = []
        try:
            async for item in job:
                got.append(item)
        except Exception as exc:
            return got, exc
        assert not scheduler.jobs and not scheduler.running  # the job was let go
        return got, None

    got, error = asyncio.run(go())
    return got, error, engine.calls


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay, "RETRY_BACKOFF_S", 0.0)


def test_a_replica_lost_before_answering_costs_nothing() -> None:
    got, error, calls = relay_through(Engine(dies([]), dies([]), answers("a", "b")))
    assert (got, error, calls) == (["a", "b"], None, 3)


def test_a_replica_lost_after_it_began_is_a_503_and_not_sent_again() -> None:
    got, error, calls = relay_through(Engine(dies(["a"]), answers("never")))
    assert got == ["a"] and calls == 1
    assert isinstance(error, ReplicaLost) and error.status_code == 503


def test_replicas_lost_every_time_end_in_a_503() -> None:
    got, error, calls = relay_through(Engine(*[dies([]) for _ in range(relay.RETRIES + 1)]))
    assert got == [] and calls == relay.RETRIES + 1 and isinstance(error, ReplicaLost)


def test_the_engine_s_own_error_reaches_the_client_unchanged() -> None:
    refusal = InvalidRequest("too long", param="messages")
    _, error, _ = relay_through(Engine(answers(RemoteError(refusal))))
    assert error is refusal


def test_any_other_failure_still_answers_with_an_error() -> None:
    _, error, _ = relay_through(Engine(fails(RuntimeError("unpicklable"))))
    assert isinstance(error, InferenceFailed) and error.status_code == 500


def refuses(replica: str, error: ServiceUnavailable) -> Attempt:
    return answers(RemoteError(error, replica), Holding(replica, ()))


def test_a_replica_that_cannot_load_the_model_sends_the_request_to_another() -> None:
    missing = ServiceUnavailable("Model 'm' is unavailable: it failed to load (path /m.gguf)")
    engine = Engine(refuses("r1", missing), refuses("r2", InsufficientMemory("no room")),
                    answers("a", Holding("r3", ("m",))))  # fmt: skip
    got, error, calls = relay_through(engine)
    assert (got, error, calls) == (["a"], None, 3)
    assert [work.avoid for work in engine.sent] == [(), ("r1",), ("r1", "r2")]


def test_a_503_from_every_attempt_reaches_the_client_unchanged() -> None:
    missing = ServiceUnavailable("Model 'm' is unavailable: it failed to load")
    attempts = [refuses(f"r{n}", missing) for n in range(relay.RETRIES + 1)]
    _, error, calls = relay_through(Engine(*attempts))
    assert error is missing and calls == relay.RETRIES + 1


def test_a_503_after_the_answer_began_is_not_sent_again() -> None:
    late = ServiceUnavailable("the model went away")
    got, error, calls = relay_through(Engine(answers("a", RemoteError(late, "r1")), answers("b")))
    assert (got, error, calls) == (["a"], late, 1)
