"""The scheduler: a bounded priority queue in front of one worker that runs inference off the
event loop, streaming what the plugin yields back to the waiting request."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import structlog

from multai_core.config import SchedulerConfig
from multai_core.errors import (
    InferenceFailed,
    MultaiError,
    QueueFull,
    QueueTimeout,
    ServiceUnavailable,
    ShuttingDown,
)
from multai_core.memory import MemoryManager
from multai_core.request_queue import RequestQueue
from multai_core.types import ModelSpec, Task

log = structlog.get_logger(__name__)

_DONE = object()


class Job:
    """One submitted task as its caller sees it: an async stream of what the plugin produced."""

    def __init__(self, task: Task, spec: ModelSpec, priority: int, gpu_layers: int | None) -> None:
        self.task = task
        self.spec = spec
        self.priority = priority
        self.gpu_layers = gpu_layers
        self.cancel_event = threading.Event()
        self.state = "queued"
        self.queue_key: int | None = None
        self.submitted_at = time.monotonic()
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()

    def _put(self, item: Any) -> None:
        self._loop.call_soon_threadsafe(self._events.put_nowait, item)

    async def next(self) -> Any:
        """The next item; raises what the plugin or scheduler raised; StopAsyncIteration at end."""
        item = await self._events.get()
        if item is _DONE:
            self._events.put_nowait(_DONE)
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
    def __init__(self, memory: MemoryManager, config: SchedulerConfig | None = None) -> None:
        self.memory = memory
        self.config = config or SchedulerConfig()
        self.queue: RequestQueue[Job] = RequestQueue()
        self.running: Job | None = None
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        self._worker = asyncio.create_task(self._run_forever(), name="multai-scheduler")

    async def stop(self) -> None:
        self._closing = True
        for job in list(self.queue.items()):
            self._finish_queued(job, ShuttingDown("The server is shutting down.", retry_after=5))
        if self.running is not None:
            self.running.cancel_event.set()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await asyncio.to_thread(self.memory.unload_all)

    def submit(
        self, task: Task, spec: ModelSpec, *, priority: int = 1, gpu_layers: int | None = None
    ) -> Job:
        if self._closing:
            raise ShuttingDown("The server is shutting down.", retry_after=5)
        if len(self.queue) >= self.config.max_queue:
            raise QueueFull(
                f"The queue is full ({self.config.max_queue} waiting requests); retry later.",
                retry_after=1,
            )
        job = Job(task, spec, priority, gpu_layers)
        job.queue_key = self.queue.push(
            job, priority=priority, model=spec.name, now=job.submitted_at
        )
        asyncio.get_running_loop().call_later(self.config.queue_timeout_s, self._expire, job)
        self._wakeup.set()
        return job

    def cancel(self, job: Job) -> None:
        """The client went away: drop it from the queue, or stop it at the next token."""
        job.cancel_event.set()
        if job.state == "queued":
            self._finish_queued(job, None)

    def _finish_queued(self, job: Job, error: MultaiError | None) -> None:
        if job.queue_key is not None and self.queue.remove(job.queue_key):
            job.state = "cancelled" if error is None else "failed"
            job._put(error if error is not None else _DONE)

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

    async def _run_forever(self) -> None:
        while True:
            job = self.queue.pop(loaded=self.memory.resident.keys(), now=time.monotonic())
            if job is None:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            job.state = "running"
            self.running = job
            try:
                await asyncio.to_thread(self._execute, job)
            finally:
                self.running = None

    def _execute(self, job: Job) -> None:
        """Runs in a worker thread: load the model, run the plugin, forward its output."""
        started = time.perf_counter()
        loaded = None
        try:
            loaded = self.memory.acquire(job.spec, job.gpu_layers)
            result = self.memory.pm.hook.multai_infer(
                handle=loaded.handle, task=job.task, cancel=job.cancel_event
            )
            if result is None:
                raise ServiceUnavailable(f"No installed plugin serves model '{job.spec.name}'.")
            if isinstance(result, Iterator):
                self._forward(job, result)
            else:
                job._put(result)
            job._put(_DONE)
            job.state = "done"
        except MultaiError as exc:
            job.state = "failed"
            job._put(exc)
        except Exception as exc:
            job.state = "failed"
            log.error(
                "inference_failed",
                request_id=job.task.id,
                model=job.spec.name,
                error=type(exc).__name__,
            )
            job._put(
                InferenceFailed(
                    f"Model '{job.spec.name}' failed during inference ({type(exc).__name__}); "
                    "the server log has details."
                )
            )
        finally:
            if loaded is not None:
                self.memory.release(loaded)
            log.info(
                "inference_finished",
                request_id=job.task.id,
                model=job.spec.name,
                kind=job.task.kind,
                state=job.state,
                cancelled=job.cancel_event.is_set(),
                seconds=round(time.perf_counter() - started, 4),
            )

    def _forward(self, job: Job, chunks: Iterator[Any]) -> None:
        try:
            for chunk in chunks:
                if job.cancel_event.is_set():
                    break
                job._put(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
