"""Runs batches in the background: validates their input, runs their lines as priority-2 jobs
through the endpoints' own serving code, and writes their output and error files.

Interactive work wins: a line starts only while no priority 0/1 job is queued or running, and
when one is queued, the lines running on its model's device are cancelled and go back to
pending (they run again later; counted as preempted). A line whose model is not loaded waits
until the machine is otherwise idle, so a batch never forces a swap. At most
[server].batch_lines_in_flight lines run at once over every batch.

Aging keeps a steady interactive load from starving a batch: one that has had pending lines and
finished none for [scheduler].aging_s_priority_2 seconds is starved, and gets one protected line
at a time: it starts even while interactive work is busy (for a model not loaded too: the
scheduler's own priority-2 aging then decides when it is worth a swap) and is never preempted.
The batch keeps that lane, one protected line after another, until a moment when no interactive
job is queued or running; then the rules above apply again. A line preempted twice also runs
protected the next time its batch's lane is free, so no line loses its work forever. Protected
lines count within batch_lines_in_flight and are counted as protected starts.

State lives in the batch store, so a restarted server resumes where the last one stopped."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog

from multai_core.engine.scheduler import Job
from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import InferenceFailed, MultaiError, where
from multai_core.protocol.batches import BatchError, BatchErrors
from multai_core.serving import batch_requests
from multai_core.serving.batch_input import check_batch_input
from multai_core.serving.batch_store import BatchStore, LineState, PendingLine, StoredBatch
from multai_core.serving.services import Services

log = structlog.get_logger(__name__)
TICK_S = 1.0  # expiry and waiting lines are looked at least this often
PROTECT_AFTER = 2  # a line preempted this often runs protected next time
RETRY_S = 2.0  # after a line was refused for a passing reason (queue full, shutting down)
MAX_ERRORS = 100  # validation errors reported per batch
_encode = msgspec.json.encode


class _Model(msgspec.Struct):
    model: str = ""


_model_of = msgspec.json.Decoder(_Model)


@dataclass(eq=False)
class _Line:
    batch_id: str
    pending: PendingLine
    job: Job | None = None
    task: asyncio.Task[None] | None = None
    protected: bool = False  # never preempted (a starved batch's lane, or preempted twice)
    preempted: bool = False  # interactive work took its place: it runs again
    stopped: bool = False  # its batch was cancelled or expired


@dataclass
class _Ending:
    status: str
    code: str
    message: str


_ENDINGS = {
    "completed": _Ending("completed", "", ""),
    "cancelled": _Ending(
        "cancelled", "batch_cancelled", "This request was not executed: the batch was cancelled."
    ),
    "expired": _Ending(
        "expired",
        "batch_expired",
        "This request could not be executed before the completion window expired.",
    ),
}


@dataclass
class BatchRunner:
    services: Services
    _flight: dict[tuple[str, int], _Line] = field(default_factory=dict)
    _validating: set[str] = field(default_factory=set)
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _paused_until: float = 0.0
    _busy: bool = False  # the last look found a batch that has not ended
    _progress: dict[str, float] = field(default_factory=dict)  # batch -> last line finished
    _starved: set[str] = field(default_factory=set)  # batches holding a protected lane
    _preemptions: Counter[tuple[str, int]] = field(default_factory=Counter)

    @property
    def store(self) -> BatchStore:
        return self.services.batch_store

    async def start(self) -> None:
        self.services.scheduler.watch(self._on_job)
        self._task = asyncio.create_task(self._forever(), name="multai-batches")

    async def stop(self) -> None:
        """Stop running lines; they are still pending in the store and run after a restart."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for line in list(self._flight.values()):
            line.stopped = True
            if line.job is not None:
                self.services.scheduler.cancel(line.job)
        waiting = [t for t in (*self._background, *self._tasks()) if not t.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=10.0)

    def wake(self) -> None:
        self._wakeup.set()

    def _tasks(self) -> list[asyncio.Task[None]]:
        return [line.task for line in self._flight.values() if line.task is not None]

    # -- giving way to interactive work ------------------------------------------------------

    def _on_job(self, job: Job) -> None:
        if job.priority < 2 and job.state == "queued":
            self._preempt_for(job)
        if self._busy:  # with no batch to run, requests cost the runner nothing
            self._wakeup.set()

    def _preempt_for(self, job: Job) -> None:
        resident = self.services.memory.resident.get(job.spec.name)
        device = resident.placement.device if resident is not None else None
        for line in self._flight.values():
            running = line.job
            if running is None or running.state != "running" or line.preempted or line.protected:
                continue
            if device is None or running.device == device:
                line.preempted = True
                self.services.scheduler.cancel(running)

    def _may_start(self, body: bytes) -> bool:
        """A line for a loaded model may start; one for another model only when nothing else
        runs or waits (its swap then costs no one)."""
        try:
            model = _model_of.decode(body).model
            name = self.services.registry.resolve(model).name
        except (msgspec.DecodeError, MultaiError):
            return True  # it fails at once, with the endpoint's own error
        if name in self.services.memory.resident:
            return True
        scheduler = self.services.scheduler
        return not scheduler.running and not len(scheduler.queue) and not self._flight

    # -- the loop -----------------------------------------------------------------------------

    async def _forever(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                await self._tick()
            except Exception as exc:
                log.error("batch_runner_failed", error=type(exc).__name__, where=where(exc))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), TICK_S)

    async def _tick(self) -> None:
        batches = await asyncio.to_thread(self.store.unfinished)
        self._busy = bool(batches)
        now = time.time()
        running: list[StoredBatch] = []
        for stored in batches:
            batch = stored.batch
            if batch.status == "validating":
                if batch.id not in self._validating:
                    self._validating.add(batch.id)
                    self._spawn(self._validate(stored))
            elif batch.status == "cancelling":
                await self._end(stored, "cancelled")
            elif batch.expires_at is not None and now >= batch.expires_at:
                await self._end(stored, "expired")
            elif batch.status == "finalizing":
                await self._end(stored, "completed")
            elif batch.status == "in_progress":
                running.append(stored)
        await self._fill(running)
        await self._measure()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _fill(self, running: list[StoredBatch]) -> None:
        room = self.services.config.server.batch_lines_in_flight
        scheduler = self.services.scheduler
        if not scheduler.interactive_busy():
            self._starved.clear()  # a quiet moment: the usual rules apply again
        now = time.monotonic()
        aging_s = scheduler.queue.aging_s[2]
        may_start = now >= self._paused_until  # once one line must wait, later ones wait too
        for stored in running:
            batch = stored.batch
            mine = {line for (batch_id, line) in self._flight if batch_id == batch.id}
            free = room - len(self._flight)
            pending = (
                await asyncio.to_thread(self.store.pending, batch.id, exclude=mine, limit=free)
                if free > 0
                else []
            )
            if not pending and not mine:
                counts = await asyncio.to_thread(self.store.counts, batch.id)
                if counts.total == counts.completed + counts.failed:
                    await self._finalize(stored)
                continue
            since = self._progress.setdefault(batch.id, now)
            if pending and now - since >= aging_s:
                self._starved.add(batch.id)
            lane_free = now >= self._paused_until and not any(
                line.protected for line in self._flight.values() if line.batch_id == batch.id
            )
            for line in pending:
                if len(self._flight) >= room:
                    return
                preempted_often = self._preemptions[(batch.id, line.line)] >= PROTECT_AFTER
                if lane_free and (batch.id in self._starved or preempted_often):
                    lane_free = False
                    self._launch(stored, line, protected=True)
                    continue
                may_start = (
                    may_start and not scheduler.interactive_busy() and self._may_start(line.body)
                )
                if not may_start:
                    break  # this batch may still hold a protected lane; the next may too
                self._launch(stored, line)
        self._forget(alive={stored.batch.id for stored in running})

    def _forget(self, alive: set[str]) -> None:
        """Drop the aging state of batches no longer in progress."""
        for batch_id in set(self._progress) - alive:
            del self._progress[batch_id]
        self._starved &= alive
        for key in [key for key in self._preemptions if key[0] not in alive]:
            del self._preemptions[key]

    def _launch(self, stored: StoredBatch, pending: PendingLine, protected: bool = False) -> None:
        line = _Line(batch_id=stored.batch.id, pending=pending, protected=protected)
        if protected:
            self.services.metrics.batch_lines.labels("protected").inc()
        self._flight[(line.batch_id, pending.line)] = line
        line.task = asyncio.create_task(self._run_line(stored, line))

    async def _run_line(self, stored: StoredBatch, line: _Line) -> None:
        principal.set_current(stored.principal)  # this task's own context: the owner's limits
        request_id = uuid.uuid4().hex
        pending = line.pending
        state: LineState = "done"
        status = 200

        def started(job: Job) -> None:
            line.job = job
            if line.preempted or line.stopped:
                self.services.scheduler.cancel(job)

        try:
            try:
                body = await batch_requests.run(
                    self.services, stored.batch.endpoint, pending.body, request_id, started
                )
            except MultaiError as exc:
                if exc.should_retry and not (line.preempted or line.stopped):
                    self._paused_until = time.monotonic() + RETRY_S
                    return  # a full queue or a shutdown: the line stays pending
                state, status, body = "failed", exc.status_code, _encode(exc.body())
            except Exception as exc:
                log.error("batch_line_failed", error=type(exc).__name__, where=where(exc))
                failure = InferenceFailed("The request failed; the server log has details.")
                state, status, body = "failed", failure.status_code, _encode(failure.body())
            if line.preempted or line.stopped:
                if line.preempted:
                    self._preemptions[(line.batch_id, pending.line)] += 1
                    self.services.metrics.batch_lines.labels("preempted").inc()
                return  # cut short: it stays pending and runs again (or is reported as not run)
            output = _encode(
                {
                    "id": f"batch_req_{request_id}",
                    "custom_id": pending.custom_id,
                    "response": {
                        "status_code": status,
                        "request_id": request_id,
                        "body": msgspec.Raw(body),
                    },
                    "error": None,
                }
            )
            if await asyncio.to_thread(
                self.store.finish_line, line.batch_id, pending.line, state, output
            ):
                self.services.metrics.batch_lines.labels(state).inc()
            self._progress[line.batch_id] = time.monotonic()
            self._preemptions.pop((line.batch_id, pending.line), None)
        finally:
            self._flight.pop((line.batch_id, pending.line), None)
            self._wakeup.set()

    # -- validating and ending ----------------------------------------------------------------

    async def _validate(self, stored: StoredBatch) -> None:
        batch = stored.batch
        try:
            errors, lines = await asyncio.to_thread(self._check, stored)
            now = int(time.time())
            if errors:
                batch.status, batch.failed_at = "failed", now
                batch.errors = BatchErrors(data=errors)
                await asyncio.to_thread(self.store.save, batch, was="validating")
                log.info("batch_failed_validation", batch_id=batch.id, errors=len(errors))
            else:
                batch.status, batch.in_progress_at = "in_progress", now
                await asyncio.to_thread(self.store.begin_lines, batch, lines)
                log.info("batch_started", batch_id=batch.id, lines=len(lines))
        finally:
            self._validating.discard(batch.id)
            self._wakeup.set()

    def _check(self, stored: StoredBatch) -> tuple[list[BatchError], list[PendingLine]]:
        """Runs in a thread: the input file's requests, or what is wrong with them."""
        batch, caller = stored.batch, stored.principal
        try:
            content = self.services.file_store.content(stored.owner, batch.input_file_id)
            lines = check_batch_input(
                content, max_lines=self.services.config.server.max_batch_lines
            )
        except MultaiError as exc:
            return [BatchError(code=exc.code or "invalid_request", message=exc.message)], []
        errors: list[BatchError] = []
        for line in lines:
            if len(errors) >= MAX_ERRORS:
                break
            if line.url != batch.endpoint:
                errors.append(
                    BatchError(
                        code="invalid_url",
                        message=f"line {line.line}: the url {line.url} differs from the batch's "
                        f"endpoint {batch.endpoint}; every line must use the batch's endpoint.",
                        param="url",
                        line=line.line,
                    )
                )
                continue
            model = str(line.body["model"])
            try:
                spec = self.services.registry.resolve(model)
                known = caller.may_use(model=spec.name, aliases=spec.aliases)
            except MultaiError:
                known = False
            if not known:
                errors.append(
                    BatchError(
                        code="model_not_found",
                        message=f"line {line.line}: the model '{model}' does not exist. "
                        "GET /v1/models lists the models this server has.",
                        param="body.model",
                        line=line.line,
                    )
                )
        pending = [
            PendingLine(line=i, custom_id=line.custom_id, body=_encode(line.body))
            for i, line in enumerate(lines)
        ]
        return errors, pending

    async def _finalize(self, stored: StoredBatch) -> None:
        batch = stored.batch
        batch.status, batch.finalizing_at = "finalizing", int(time.time())
        if await asyncio.to_thread(self.store.save, batch, was="in_progress"):
            await self._end(stored, "completed")

    async def _end(self, stored: StoredBatch, how: str) -> None:
        """Stop the batch's lines and write its files from the finished ones."""
        batch, ending = stored.batch, _ENDINGS[how]
        was = batch.status
        mine = [line for line in self._flight.values() if line.batch_id == batch.id]
        for line in mine:
            line.stopped = True
            if line.job is not None:
                self.services.scheduler.cancel(line.job)
        tasks = [line.task for line in mine if line.task is not None]
        if tasks:
            await asyncio.wait(tasks)
        output, failed = await asyncio.to_thread(self._write_files, stored, ending)
        now = int(time.time())
        batch.output_file_id, batch.error_file_id = output, failed
        batch.status = ending.status  # type: ignore[assignment]
        if how == "completed":
            batch.completed_at = now
        elif how == "cancelled":
            batch.cancelled_at = now
        else:
            batch.expired_at = now
        await asyncio.to_thread(self.store.save, batch, was=was)
        log.info("batch_ended", batch_id=batch.id, status=batch.status)

    def _write_files(self, stored: StoredBatch, ending: _Ending) -> tuple[str | None, str | None]:
        """Runs in a thread: (output file id, error file id), each None when it has no line."""
        output, errors = bytearray(), bytearray()
        for _, custom_id, state, result in self.store.lines(stored.batch.id):
            if state == "pending" or result is None:
                if ending.code:
                    errors += _encode(
                        {
                            "id": f"batch_req_{uuid.uuid4().hex}",
                            "custom_id": custom_id,
                            "response": None,
                            "error": {"code": ending.code, "message": ending.message},
                        }
                    )
                    errors += b"\n"
                continue
            (output if state == "done" else errors).extend(result + b"\n")
        files = self.services.file_store
        ids: list[str | None] = []
        for kind, content in (("output", output), ("error", errors)):
            if not content:
                ids.append(None)
                continue
            name = f"{stored.batch.id}_{kind}.jsonl"
            made = files.create(
                stored.owner, filename=name, purpose="batch_output", content=bytes(content)
            )
            ids.append(made.id)
        return ids[0], ids[1]

    async def _measure(self) -> None:
        metrics = self.services.metrics
        by_status = await asyncio.to_thread(self.store.status_counts)
        for status in (
            "validating",
            "failed",
            "in_progress",
            "finalizing",
            "completed",
            "expired",
            "cancelling",
            "cancelled",
        ):
            metrics.batches.labels(status).set(by_status.get(status, 0))
        metrics.batch_lines_queued.set(await asyncio.to_thread(self.store.pending_total))
