"""The ingress's scheduler: each job is relayed to an engine replica, whose own queue orders it
by priority; what the replica's plugin yields streams back into the job the controllers read.

A replica that dies before the job produced anything costs the job nothing: it is sent again,
to another replica; so is a job whose replica answered 503 (a model it cannot load there, its
files missing on that node), the router trying the other replicas first. One that dies after
the first item ends the job with a 503 (for a stream, its documented error event): the client
has part of an answer, and sending the request again could answer it twice."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, cast

import structlog
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from multai_core.config import Config
from multai_core.engine.memory import MemoryManager
from multai_core.engine.metrics import Metrics
from multai_core.engine.scheduler import _DONE, Job, Scheduler
from multai_core.plugin_api.errors import InferenceFailed, MultaiError, ServiceUnavailable
from multai_core.plugin_api.tasks import Task
from multai_core.plugin_api.types import ModelSpec
from multai_core.ray_serve import holdings
from multai_core.ray_serve.affinity import conversation_of
from multai_core.ray_serve.work import Holding, RemoteError, RemoteWork, group_of

log = structlog.get_logger(__name__)

REPLICA_LOST = (ActorDiedError, ActorUnavailableError, RayActorError, DeploymentUnavailableError)
RETRIES = 3
RETRY_BACKOFF_S = 0.5


class ReplicaLost(ServiceUnavailable):
    code = "replica_lost"


class RelayScheduler(Scheduler):
    def __init__(
        self,
        memory: MemoryManager,
        config: Config,
        metrics: Metrics,
        engines: Mapping[str, DeploymentHandle[Any]],
    ) -> None:
        """``engines``: the engine deployment of each replica group."""
        super().__init__(memory, config.scheduler, metrics)
        self._engines = engines
        self._groups = {model: g.name for g in config.ray.groups for model in g.models}
        self._relays: dict[Job, asyncio.Task[None]] = {}

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()  # the replicas dispatch; nothing to run here

    def submit(
        self,
        task: Task,
        spec: ModelSpec,
        *,
        priority: int = 1,
        gpu_layers: int | None = None,
        owner: str = "",
    ) -> Job:
        self._admit(task, owner)
        job = Job(task, spec, priority, gpu_layers, owner)
        self.jobs[(owner, task.id)] = job
        self.running.add(job)
        conversation = conversation_of(task, owner)
        work = RemoteWork(task, spec, priority, gpu_layers, owner, conversation)
        relay = asyncio.create_task(self._relay(job, work), name=f"multai-relay-{task.id}")
        self._relays[job] = relay
        self._tell(job)
        return job

    def _check_room(self) -> None:
        """Nothing waits here: each replica's own queue has its bound."""

    def cancel(self, job: Job) -> None:
        job.cancel_event.set()
        relay = self._relays.get(job)
        if relay is not None:
            relay.cancel()  # cancels the replica's generator, which cancels its job

    def position(self, job: Job) -> int | None:  # noqa: ARG002 (the base's signature)
        return None  # the replica's queue holds the order

    def positions(self) -> dict[int, int]:
        return {}

    async def _relay(self, job: Job, work: RemoteWork) -> None:
        try:
            for attempt in range(RETRIES + 1):
                produced = False
                refusal: RemoteError | None = None
                stream = self._stream(work)
                try:
                    async for item in stream:
                        if isinstance(item, Holding):
                            holdings.heard(item)
                            continue
                        if isinstance(item, RemoteError):
                            # a 503 before any answer (a model that replica cannot load, its
                            # files missing on that node, no room there): another may serve it
                            refusable = isinstance(item.error, ServiceUnavailable)
                            if produced or attempt == RETRIES or not refusable:
                                raise item.error
                            refusal = item  # the replica's Holding follows
                            continue
                        produced = True
                        job.state = "running"
                        job._put(item)
                    if refusal is None:
                        job.state = "done"
                        job._put(_DONE)
                        return
                    log.info("replica_refused_retrying", request_id=work.task.id, attempt=attempt)
                    work = replace(work, avoid=(*work.avoid, refusal.replica))
                except asyncio.CancelledError:
                    stream.cancel()  # type: ignore[no-untyped-call]  # the replica's job ends too
                    raise
                except REPLICA_LOST as exc:
                    if produced or attempt == RETRIES:
                        log.warning(
                            "replica_lost", request_id=work.task.id, error=type(exc).__name__
                        )
                        raise ReplicaLost(
                            "The engine replica serving this request stopped"
                            + (" after it had begun to answer" if produced else "")
                            + "; retry it.",
                            retry_after=1,
                        ) from exc
                    log.info("replica_lost_retrying", request_id=work.task.id, attempt=attempt)
                    await asyncio.sleep(RETRY_BACKOFF_S * (attempt + 1))
        except MultaiError as exc:
            job.state = "failed"
            job._put(exc)
        except BackPressureError as exc:
            job.state = "failed"
            job._put(ServiceUnavailable(f"Every engine replica is full ({exc}); retry later."))
        except asyncio.CancelledError:
            job.state = "cancelled"
            job._put(_DONE)
        except Exception as exc:  # anything else Ray raises: the request still gets its answer
            log.error("relay_failed", request_id=work.task.id, error=type(exc).__name__)
            job.state = "failed"
            job._put(
                InferenceFailed(
                    f"Model '{work.spec.name}' failed on its engine replica "
                    f"({type(exc).__name__}); the server log has details."
                )
            )
        finally:
            self._relays.pop(job, None)
            self.jobs.pop((job.owner, job.task.id), None)
            self.running.discard(job)
            job._settled.set()
            self._tell(job)

    def _stream(self, work: RemoteWork) -> DeploymentResponseGenerator[Any]:
        engine = self._engines[group_of(work.spec, self._groups)]
        options = engine.options(stream=True, multiplexed_model_id=work.spec.name)
        return cast(DeploymentResponseGenerator[Any], options.run.remote(work))  # stream=True

    async def stop(self, grace_s: float = 10.0) -> None:
        self._closing = True
        for job in list(self.running):
            self.cancel(job)
        if self._relays:
            await asyncio.wait(list(self._relays.values()), timeout=grace_s)
