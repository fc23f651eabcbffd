"""Batches and their lines in SQLite (<data_dir>/batches.sqlite3, WAL, mode 0600).

One row per batch (OpenAI's batch object, its owner and the Principal its lines run as) and one
row per input line (pending, done or failed, and its output line once it has one). A line's
output is written in the same statement that marks it finished, so a crash loses no finished
result and a line whose result was not committed is still pending: it runs again. The output
and error files are made from these rows, in input order, one line per custom_id. Calls block
briefly: callers on the event loop run them in a thread."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from multai_core.plugin_api.principal import Principal
from multai_core.protocol.batches import ENDED, Batch, RequestCounts
from multai_core.serving.private_db import open_private_db

LineState = Literal["pending", "done", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    principal BLOB NOT NULL,
    batch BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_owner ON batches (owner, seq);
CREATE INDEX IF NOT EXISTS batches_status ON batches (status);
CREATE TABLE IF NOT EXISTS lines (
    batch_id TEXT NOT NULL,
    line INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    state TEXT NOT NULL,
    body BLOB NOT NULL,
    result BLOB,
    PRIMARY KEY (batch_id, line)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lines_state ON lines (batch_id, state, line);
"""
_OPEN_COUNT = (
    "SELECT COUNT(*) FROM batches WHERE owner = ? "
    "AND status NOT IN ('cancelled', 'completed', 'expired', 'failed')"
)
_UNFINISHED = (
    "SELECT owner, principal, batch FROM batches "
    "WHERE status NOT IN ('cancelled', 'completed', 'expired', 'failed') ORDER BY seq"
)
assert {"cancelled", "completed", "expired", "failed"} == ENDED  # the two queries above
_batch = msgspec.json.Decoder(Batch)
_principal = msgspec.json.Decoder(Principal)
_encode = msgspec.json.encode


@dataclass(frozen=True)
class StoredBatch:
    owner: str
    principal: Principal
    batch: Batch


@dataclass(frozen=True)
class PendingLine:
    line: int  # the request's place in the input file, from 0
    custom_id: str
    body: bytes  # the request body as JSON


class BatchStore:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "batches.sqlite3"
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            db = open_private_db(self.path, _SCHEMA)
            self._db = db
        return self._db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- batches ----------------------------------------------------------------------------

    def create(self, owner: str, principal: Principal, batch: Batch) -> None:
        with self._lock:
            self._connect().execute(
                "INSERT INTO batches (id, owner, status, principal, batch) VALUES (?, ?, ?, ?, ?)",
                (batch.id, owner, batch.status, _encode(principal), _encode(batch)),
            )

    def save(self, batch: Batch, *, was: str) -> bool:
        """The batch's new state, if its status is still ``was`` (else False: a cancel came
        between). request_counts are read from its lines, not kept."""
        with self._lock:
            cursor = self._connect().execute(
                "UPDATE batches SET status = ?, batch = ? WHERE id = ? AND status = ?",
                (batch.status, _encode(batch), batch.id, was),
            )
        return cursor.rowcount > 0

    def get(self, batch_id: str) -> StoredBatch | None:
        with self._lock:
            db = self._connect()
            row = db.execute(
                "SELECT owner, principal, batch FROM batches WHERE id = ?", (batch_id,)
            ).fetchone()
            if row is None:
                return None
            return self._stored(db, row)

    def page(self, owner: str | None, *, after: str | None, limit: int) -> tuple[list[Batch], bool]:
        """Newest first, after the batch ``after`` (None: from the newest); every owner's
        with ``owner`` None. Also says whether more follow."""
        with self._lock:
            db = self._connect()
            cursor = None
            if after is not None:
                found = db.execute("SELECT seq FROM batches WHERE id = ?", (after,)).fetchone()
                cursor = found[0] if found is not None else None
            rows = db.execute(
                "SELECT owner, principal, batch FROM batches "
                "WHERE (:owner IS NULL OR owner = :owner) AND (:cursor IS NULL OR seq < :cursor) "
                "ORDER BY seq DESC LIMIT :limit",
                {"owner": owner, "cursor": cursor, "limit": limit + 1},
            ).fetchall()
            batches = [self._stored(db, row).batch for row in rows[:limit]]
        return batches, len(rows) > limit

    def _stored(self, db: sqlite3.Connection, row: tuple[str, bytes, bytes]) -> StoredBatch:
        batch = _batch.decode(row[2])
        batch.request_counts = self._counts(db, batch.id, batch.request_counts)
        return StoredBatch(owner=row[0], principal=_principal.decode(row[1]), batch=batch)

    def open_count(self, owner: str) -> int:
        with self._lock:
            row = self._connect().execute(_OPEN_COUNT, (owner,)).fetchone()
        return int(row[0])

    def unfinished(self) -> list[StoredBatch]:
        """Every batch that has not ended, oldest first."""
        with self._lock:
            db = self._connect()
            rows = db.execute(_UNFINISHED).fetchall()
            return [self._stored(db, row) for row in rows]

    def status_counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._connect().execute("SELECT status, COUNT(*) FROM batches GROUP BY status")
            return {status: int(n) for status, n in rows.fetchall()}

    # -- lines ------------------------------------------------------------------------------

    def begin_lines(self, batch: Batch, lines: list[PendingLine]) -> bool:
        """The batch's lines, all pending, and its new state, in one transaction, if it is
        still validating (a batch that was being validated when the server stopped is validated
        again from scratch)."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE batches SET status = ?, batch = ? WHERE id = ? AND status = 'validating'",
                (batch.status, _encode(batch), batch.id),
            )
            if cursor.rowcount == 0:
                return False
            db.execute("DELETE FROM lines WHERE batch_id = ?", (batch.id,))
            db.executemany(
                "INSERT INTO lines (batch_id, line, custom_id, state, body) "
                "VALUES (?, ?, ?, 'pending', ?)",
                ((batch.id, p.line, p.custom_id, p.body) for p in lines),
            )
        return True

    def pending(self, batch_id: str, *, exclude: Collection[int], limit: int) -> list[PendingLine]:
        """The first pending lines in input order, leaving out ``exclude`` (running ones)."""
        with self._lock:
            rows = (
                self._connect()
                .execute(
                    "SELECT line, custom_id, body FROM lines "
                    "WHERE batch_id = ? AND state = 'pending' ORDER BY line LIMIT ?",
                    (batch_id, limit + len(exclude)),
                )
                .fetchall()
            )
        found = [PendingLine(line=r[0], custom_id=r[1], body=r[2]) for r in rows]
        return [p for p in found if p.line not in exclude][:limit]

    def finish_line(self, batch_id: str, line: int, state: LineState, result: bytes) -> bool:
        """Record a line's output line; False if it had one already (it is kept)."""
        with self._lock:
            cursor = self._connect().execute(
                "UPDATE lines SET state = ?, result = ? "
                "WHERE batch_id = ? AND line = ? AND state = 'pending'",
                (state, result, batch_id, line),
            )
        return cursor.rowcount > 0

    def counts(self, batch_id: str) -> RequestCounts:
        with self._lock:
            return self._counts(self._connect(), batch_id, RequestCounts())

    def _counts(self, db: sqlite3.Connection, batch_id: str, kept: RequestCounts) -> RequestCounts:
        rows = db.execute(
            "SELECT state, COUNT(*) FROM lines WHERE batch_id = ? GROUP BY state", (batch_id,)
        ).fetchall()
        if not rows:  # not validated yet, or failed validation: what the batch says
            return kept
        by_state = {state: int(n) for state, n in rows}
        return RequestCounts(
            total=sum(by_state.values()),
            completed=by_state.get("done", 0),
            failed=by_state.get("failed", 0),
        )

    def lines(self, batch_id: str) -> list[tuple[int, str, LineState, bytes | None]]:
        """(line, custom_id, state, output line) of every line, in input order."""
        with self._lock:
            rows = (
                self._connect()
                .execute(
                    "SELECT line, custom_id, state, result FROM lines WHERE batch_id = ? "
                    "ORDER BY line",
                    (batch_id,),
                )
                .fetchall()
            )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def pending_total(self) -> int:
        """Lines waiting to run over every batch still running."""
        with self._lock:
            row = (
                self._connect()
                .execute(
                    "SELECT COUNT(*) FROM lines JOIN batches ON batches.id = lines.batch_id "
                    "WHERE lines.state = 'pending' AND batches.status = 'in_progress'"
                )
                .fetchone()
            )
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
