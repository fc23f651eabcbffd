"""The scheduler: a bounded priority queue in front of worker threads.

A job may start when its model has a free slot (ModelSpec.max_concurrency, for llama.cpp its
parallel slots) and the device its
model runs on is not busy with another model (two models on one device fight for it), and at
most one model loads at a time. Inference runs off the event loop; what the plugin yields is
streamed back to the waiting request."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog

from multai_core.config import SchedulerConfig
from multai_core.engine.memory import MemoryManager
from multai_core.engine.metrics import Metrics
from multai_core.engine.request_queue import RequestQueue
from multai_core.plugin_api.errors import (
    Conflict,
    InferenceFailed,
    MultaiError,
    QueueFull,
    QueueTimeout,
    ShuttingDown,
    where,
)
from multai_core.plugin_api.results import EmbeddingResult, Usage
from multai_core.plugin_api.tasks import Task
from multai_core.plugin_api.types import EngineStats, ModelSpec, ReportsEngineStats

log = structlog.get_logger(__name__)

_DONE = object()


class Job:
    """One submitted task as its caller sees it: an async stream of what the plugin produced."""

    def __init__(
        self, task: Task, spec: ModelSpec, priority: int, gpu_layers: int | None, owner: str = ""
    ) -> None:
        self.task = task
        self.spec = spec
        self.priority = priority
        self.gpu_layers = gpu_layers
        self.owner = owner
        self.cancel_event = threading.Event()
        self.state = "queued"
        self.queue_key: int | None = None
        self.device: str | None = None
        self.loads_model = False
        self.load_done = False
        self.submitted_at = time.monotonic()
        self.started_at: float | None = None
        self.expiry: asyncio.TimerHandle | None = None
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._settled = asyncio.Event()
        """Set once the scheduler let go of the job (its model released, its slot counted
        free): a caller that hears the end and at once deletes or reloads the model must not
        find it still in use."""

    def _put(self, item: Any) -> None:
        self._loop.call_soon_threadsafe(self._events.put_nowait, item)

    async def next(self) -> Any:
        """The next item; raises what the plugin or scheduler raised; StopAsyncIteration at end."""
        item = await self._events.get()
        if item is _DONE:
            self._events.put_nowait(_DONE)
            await self._settled.wait()
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._events.put_nowait(_DONE)
            raise item
        return item

    async def __aiter__(self) -> AsyncIterator[Any]:
        while True:
            try:
                yield await self.next()
            except StopAsyncIteration:
                return


class Scheduler:
    def __init__(
        self,
        memory: MemoryManager,
        config: SchedulerConfig | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.memory = memory
        self.config = config or SchedulerConfig()
        self.metrics = metrics or Metrics()
        self.queue: RequestQueue[Job] = RequestQueue(
            {1: self.config.aging_s_priority_1, 2: self.config.aging_s_priority_2},
            policy=self.config.policy,
        )
        memory.waiting_for = self.queue.waiting_for
        memory.busy = lambda model: self._per_model[model] > 0  # started, maybe not yet acquired
        # its own threads: a started job never waits behind image decoding for one
        self._executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="multai-job")
        # queued and running, by (owner, request id): ids are unique per key, so a 409 on a
        # duplicate X-Request-Id tells nothing about other keys' requests
        self.jobs: dict[tuple[str, str], Job] = {}
        self.running: set[Job] = set()
        self._per_model: Counter[str] = Counter()
        self._lanes: dict[str, str] = {}  # device -> the model running on it
        self._lane_users: Counter[str] = Counter()
        self._loading = False
        self._planned: dict[str, str] = {}  # device of an unloaded model, for the current pick
        self._specs: dict[str, ModelSpec] = {}
        self._service_s: dict[str, float] = {}  # moving average of a request's run time
        self._load_s: dict[str, float] = {}  # last measured load time
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._drain: asyncio.TimerHandle | None = None
        self._listeners: list[Callable[[Job], None]] = []
        self.metrics.watch_engines(self._engine_stats)

    def watch(self, listener: Callable[[Job], None]) -> None:
        """Call ``listener`` (on the event loop) with each job when it is queued and when it
        has ended, run or not: background work uses it to give way to interactive jobs."""
        self._listeners.append(listener)

    def _tell(self, job: Job) -> None:
        for listener in self._listeners:
            listener(job)

    def interactive_busy(self) -> bool:
        """Whether a priority 0 or 1 job is queued or running."""
        return bool(self.queue.depth(0) or self.queue.depth(1)) or any(
            job.priority < 2 for job in self.running
        )

    def _engine_stats(self) -> list[tuple[str, EngineStats]]:
        stats = []
        for loaded in list(self.memory.resident.values()):
            if isinstance(loaded.handle, ReportsEngineStats):
                stats.append((loaded.spec.name, loaded.handle.engine_stats()))
        return stats

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._worker = asyncio.create_task(self._dispatch_forever(), name="multai-scheduler")

    def begin_shutdown(self, drain_s: float | None = None) -> None:
        """Stop accepting; answer everything still queued with 503. Running jobs go on; with
        ``drain_s``, those still running after it end with ShuttingDown (for a stream, its last
        error event)."""
        self._closing = True
        for job in list(self.queue.items()):
            self._finish_queued(job, ShuttingDown("The server is shutting down.", retry_after=5))
        if drain_s is not None and self._drain is None:
            self._drain = self._loop.call_later(drain_s, self._end_drain, drain_s)

    def _end_drain(self, drain_s: float) -> None:
        if self.running:
            log.info("shutdown_drain_ended", drain_s=drain_s, still_running=len(self.running))
        for job in list(self.running):
            job.cancel_event.set()
            job._put(
                ShuttingDown(
                    f"The server is shutting down and this request was still running when "
                    f"its drain time ended ({drain_s:g} s, [server].shutdown_drain_s); "
                    "retry it.",
                    retry_after=5,
                )
            )

    async def stop(self, grace_s: float = 10.0) -> None:
        self.begin_shutdown()
        if self._drain is not None:
            self._drain.cancel()
        deadline = time.monotonic() + grace_s
        while self.running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for job in self.running:
            job.cancel_event.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace_s)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await asyncio.to_thread(self.memory.unload_all)
        self._executor.shutdown(wait=False)

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
        self._specs[spec.name] = spec
        job.queue_key = self.queue.push(
            job, priority=priority, model=spec.name, now=job.submitted_at
        )
        self.jobs[(owner, task.id)] = job
        self.metrics.queue_depth.labels(str(priority)).set(self.queue.depth(priority))
        job.expiry = asyncio.get_running_loop().call_later(
            self.config.queue_timeout_s, self._expire, job
        )
        self._wakeup.set()
        self._tell(job)
        return job

    def _admit(self, task: Task, owner: str) -> None:
        """Refuse a request while shutting down, with no room, or with a duplicate id."""
        if self._closing:
            raise ShuttingDown("The server is shutting down.", retry_after=5)
        self._check_room()
        if (owner, task.id) in self.jobs:
            raise Conflict(
                f"A request with id '{task.id}' is still queued or running; send a unique "
                "X-Request-Id (or none: the server makes one)."
            )

    def _check_room(self) -> None:
        if len(self.queue) >= self.config.max_queue:
            self.metrics.rejected.labels("queue_full").inc()
            raise QueueFull(
                f"The queue is full ({self.config.max_queue} waiting requests); retry later.",
                retry_after=self._retry_after(),
            )

    def _retry_after(self) -> float:
        return max(1.0, min(60.0, len(self.queue) * 0.1))

    def position(self, job: Job) -> int | None:
        if job.queue_key is None or job.state != "queued":
            return None
        return self.queue.position(job.queue_key, list(self.memory.resident))

    def positions(self) -> dict[int, int]:
        """The position of every queued job, by queue key."""
        return self.queue.positions(list(self.memory.resident))

    def cancel(self, job: Job) -> None:
        """The client went away: drop it from the queue, or stop it at the next token."""
        job.cancel_event.set()
        if job.state == "queued":
            self._finish_queued(job, None)

    def _finish_queued(self, job: Job, error: MultaiError | None) -> None:
        if job.expiry is not None:
            job.expiry.cancel()  # the timer holds the job, and with it the request's payload
        if job.queue_key is not None and self.queue.remove(job.queue_key):
            job.state = "cancelled" if error is None else "failed"
            self.jobs.pop((job.owner, job.task.id), None)
            self.metrics.queue_depth.labels(str(job.priority)).set(self.queue.depth(job.priority))
            self.metrics.rejected.labels(
                "cancelled" if error is None else (error.code or "error")
            ).inc()
            job._settled.set()
            job._put(error if error is not None else _DONE)
            self._tell(job)

    def _expire(self, job: Job) -> None:
        if job.state == "queued":
            self._finish_queued(
                job,
                QueueTimeout(
                    f"The request waited {self.config.queue_timeout_s:.0f} s in the queue "
                    "without being served.",
                    retry_after=10,
                ),
            )

    # -- dispatching ------------------------------------------------------------------------

    def _device_of(self, model: str) -> str | None:
        """Where the model runs (or would be loaded now); None while another load runs."""
        loaded = self.memory.resident.get(model)
        if loaded is not None:
            return loaded.placement.device
        if self._loading:
            return None
        if model not in self._planned:  # once per pick: the plan runs the plugin's estimate
            try:
                placement = self.memory.placement_after_evictions(self._specs[model])
            except Exception:
                placement = None  # the job will fail with a clear error when it runs
            self._planned[model] = placement.device if placement is not None else "cpu"
        return self._planned[model]

    def _costs(self, model: str) -> tuple[float, float]:
        """(load seconds if a swap is needed, seconds one request takes), as measured."""
        service = self._service_s.get(model, 1.0)
        if model in self.memory.resident:
            return 0.0, service
        known = list(self._load_s.values())
        return self._load_s.get(model, sum(known) / len(known) if known else 1.0), service

    def _horizon(self) -> float:
        """The longest one job is expected to hold the device: a request must be picked that
        much before its aging bound. Capped at half the smallest bound so affinity still works."""
        longest = max(
            (self._load_s.get(m, 0.0) + s for m, s in self._service_s.items()), default=0.0
        )
        return min(longest, 0.5 * min(self.queue.aging_s[1], self.queue.aging_s[2]))

    def _measured(self, job: Job, seconds: float, load_seconds: float | None) -> None:
        model = job.spec.name
        previous = self._service_s.get(model)
        self._service_s[model] = seconds if previous is None else 0.8 * previous + 0.2 * seconds
        if load_seconds is not None:
            self._load_s[model] = load_seconds

    def _may_start(self, model: str) -> bool:
        if self._per_model[model] >= self._specs[model].concurrency():
            return False
        device = self._device_of(model)
        if device is None:
            return False
        holder = self._lanes.get(device)
        return holder is None or holder == model

    def _next_job(self) -> Job | None:
        """The queue's pick, if it may start. If it may not because another model holds its
        device, that model starts nothing new there (the device drains for the pick); work
        elsewhere goes on."""
        self._planned.clear()
        loaded = list(self.memory.resident)  # a copy: worker threads load and unload
        now, horizon = time.monotonic(), self._horizon()
        best = self.queue.peek(loaded=loaded, now=now, horizon=horizon, costs=self._costs)
        if best is None:
            return None
        if self._may_start(best.spec.name):
            assert best.queue_key is not None
            return self.queue.take(best.queue_key)
        device = self._device_of(best.spec.name)
        holder = self._lanes.get(device) if device is not None else None
        if holder is None or holder == best.spec.name:
            may_start = self._may_start
        else:

            def may_start(model: str) -> bool:
                return model != holder and self._may_start(model)

        return self.queue.pop(
            loaded=loaded, now=now, may_start=may_start, horizon=horizon, costs=self._costs
        )

    async def _dispatch_forever(self) -> None:
        while True:
            self._wakeup.clear()
            while not self._closing:
                job = self._next_job()
                if job is None:
                    break
                self._start(job)
            await self._wakeup.wait()

    def _start(self, job: Job) -> None:
        model = job.spec.name
        job.state = "running"
        job.started_at = time.monotonic()
        if job.expiry is not None:
            job.expiry.cancel()
        job.loads_model = model not in self.memory.resident
        job.device = self._device_of(model) or "cpu"
        self._loading = self._loading or job.loads_model
        self._per_model[model] += 1
        self._lanes[job.device] = model
        self._lane_users[job.device] += 1
        self.running.add(job)
        self.metrics.queue_depth.labels(str(job.priority)).set(self.queue.depth(job.priority))
        self.metrics.queue_wait.labels(str(job.priority)).observe(job.started_at - job.submitted_at)
        task = asyncio.create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job) -> None:
        try:
            context = contextvars.copy_context()
            await self._loop.run_in_executor(self._executor, context.run, self._execute, job)
        finally:
            model, device = job.spec.name, job.device or "cpu"
            self.running.discard(job)
            self.jobs.pop((job.owner, job.task.id), None)
            self._per_model[model] -= 1
            self._lane_users[device] -= 1
            if self._lane_users[device] <= 0:
                self._lanes.pop(device, None)
            self._load_finished(job)
            self._wakeup.set()
            job._settled.set()
            self._tell(job)

    def _execute(self, job: Job) -> None:
        """Runs in a worker thread: load the model, run the plugin, forward its output."""
        loaded = None
        outcome = "ok"
        ran_from = time.perf_counter()
        try:
            if job.cancel_event.is_set():  # the client left before it ran: load nothing
                outcome = "cancelled"
                job._put(_DONE)
                return
            loaded = self.memory.acquire(job.spec, job.gpu_layers)
            if job.loads_model:  # the load is done: another model may load while this runs
                self._loop.call_soon_threadsafe(self._load_finished, job)
            ran_from = time.perf_counter()
            if job.cancel_event.is_set():
                outcome = "cancelled"
                job._put(_DONE)
                return
            result = loaded.hooks.infer(loaded.handle, job.task, job.cancel_event)
            if isinstance(result, Iterator):
                self._forward(job, result)
            else:
                self._count_tokens(job, result)
                job._put(result)
            job._put(_DONE)
            job.state = "done"
        except MultaiError as exc:
            outcome = "rejected" if exc.status_code < 500 else "failed"
            job.state = "failed"
            job._put(exc)
        except BaseException as exc:  # even SystemExit from a plugin: the server stays up
            outcome = "failed"
            job.state = "failed"
            log.error(
                "inference_failed",
                request_id=job.task.id,
                model=job.spec.name,
                error=type(exc).__name__,
                where=where(exc),
            )
            job._put(
                InferenceFailed(
                    f"Model '{job.spec.name}' failed during inference ({type(exc).__name__}); "
                    "the server log has details."
                )
            )
        finally:
            seconds = time.perf_counter() - ran_from
            if loaded is not None:
                self.memory.release(loaded)
                if outcome == "ok":
                    load_s = loaded.load_seconds if job.loads_model else None
                    self._loop.call_soon_threadsafe(self._measured, job, seconds, load_s)
            if job.cancel_event.is_set() and outcome == "ok":
                outcome = "cancelled"
            self.metrics.inference_seconds.labels(job.spec.name, job.task.kind, outcome).observe(
                seconds
            )
            log.info(
                "inference_finished",
                request_id=job.task.id,
                model=job.spec.name,
                kind=job.task.kind,
                priority=job.priority,
                outcome=outcome,
                queued_s=round((job.started_at or 0) - job.submitted_at, 4),
                seconds=round(seconds, 4),
            )

    def _load_finished(self, job: Job) -> None:
        if job.loads_model and not job.load_done:
            job.load_done = True
            self._loading = False
            self._wakeup.set()

    def _forward(self, job: Job, chunks: Iterator[Any]) -> None:
        try:
            for chunk in chunks:
                if job.cancel_event.is_set():
                    break
                self._count_tokens(job, chunk)
                job._put(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _count_tokens(self, job: Job, item: object) -> None:
        """Tokens of a Usage chunk or of a whole result that reports them (embeddings)."""
        if isinstance(item, Usage):
            prompt, completion = item.prompt_tokens, item.completion_tokens
        elif isinstance(item, EmbeddingResult):
            prompt, completion = item.prompt_tokens, 0
        else:
            return
        self.metrics.tokens.labels(job.spec.name, "prompt").inc(prompt)
        if isinstance(item, Usage) and item.cached_tokens:
            self.metrics.tokens.labels(job.spec.name, "cached_prompt").inc(item.cached_tokens)
        if completion:
            self.metrics.tokens.labels(job.spec.name, "completion").inc(completion)
