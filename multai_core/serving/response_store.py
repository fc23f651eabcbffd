"""Stored Responses (``store: true``) in SQLite, in the configured data directory: the
response, its input items and the conversation before them, per owner (the caller's
Principal.id: another key sees nothing). Opened on first use; rows older than the retention
period are deleted as new ones arrive. Calls block briefly: callers run them in a thread."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import msgspec

from multai_core.plugin_api.errors import MultaiError
from multai_core.plugin_api.principal import Principal
from multai_core.protocol import responses as api
from multai_core.serving.private_db import open_private_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_at REAL NOT NULL,
    response BLOB NOT NULL,
    input_items BLOB NOT NULL,
    history BLOB NOT NULL,
    PRIMARY KEY (owner, id)
);
CREATE INDEX IF NOT EXISTS responses_created ON responses (created_at);
CREATE TABLE IF NOT EXISTS unfinished (
    id TEXT NOT NULL,
    owner TEXT NOT NULL,
    request BLOB NOT NULL,
    caller BLOB NOT NULL,
    runs INTEGER NOT NULL,
    PRIMARY KEY (owner, id)
);
"""
_RUNNING = ("queued", "in_progress")
_items = msgspec.json.Decoder(list[dict[str, Any]])
_response = msgspec.json.Decoder(api.Response)
_request = msgspec.json.Decoder(api.ResponseRequest)
_caller = msgspec.json.Decoder(Principal)
_encode = msgspec.json.encode


class ResponseNotFound(MultaiError):
    status_code = 404
    type = "invalid_request_error"
    code = "not_found"

    @classmethod
    def named(cls, response_id: str, param: str | None = None) -> ResponseNotFound:
        return cls(f"Response with id '{response_id}' not found.", param=param)


class Stored(msgspec.Struct, kw_only=True):
    response: api.Response
    input_items: list[dict[str, Any]]
    history: list[dict[str, Any]]

    def conversation(self) -> list[dict[str, Any]]:
        """What a response continuing this one sees before its own input."""
        output = [msgspec.to_builtins(item) for item in self.response.output]
        return [*self.history, *self.input_items, *output]


class Unfinished(msgspec.Struct, kw_only=True):
    """A background response that had not finished when the server stopped, with what it
    takes to run it again: the request, the caller it ran for, and how often it has run."""

    owner: str
    stored: Stored
    request: api.ResponseRequest
    caller: Principal
    runs: int


class ResponseStore:
    def __init__(self, data_dir: Path, retention_s: float) -> None:
        self.path = data_dir / "responses.sqlite3"
        self.retention_s = retention_s
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            db = open_private_db(self.path, _SCHEMA)
            self._db = db
        return self._db

    def put(
        self,
        owner: str,
        response: api.Response,
        input_items: list[dict[str, Any]],
        history: list[dict[str, Any]],
        rerun: tuple[api.ResponseRequest, Principal] | None = None,
    ) -> None:
        """``rerun``: a background response's request and caller, kept (in the same
        transaction) until it finishes, so that a server that stops first runs it again."""
        now = time.time()
        with self._lock:
            db = self._connect()
            db.execute("BEGIN")
            try:
                db.execute(
                    "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        response.id,
                        owner,
                        float(response.created_at),
                        _encode(response),
                        _encode(input_items),
                        _encode(history),
                    ),
                )
                if rerun is not None:
                    db.execute(
                        "INSERT OR REPLACE INTO unfinished VALUES (?, ?, ?, ?, 1)",
                        (response.id, owner, _encode(rerun[0]), _encode(rerun[1])),
                    )
                db.execute("DELETE FROM responses WHERE created_at < ?", (now - self.retention_s,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def update(self, owner: str, response: api.Response) -> None:
        """A new state of a stored response (a background one moving on); a finished one
        is no longer run again after a restart."""
        with self._lock:
            db = self._connect()
            db.execute(
                "UPDATE responses SET response = ? WHERE owner = ? AND id = ?",
                (_encode(response), owner, response.id),
            )
            if response.status not in _RUNNING:
                db.execute(
                    "DELETE FROM unfinished WHERE owner = ? AND id = ?", (owner, response.id)
                )

    def unfinished(self) -> list[Unfinished]:
        """The background responses a stopped server left queued or in progress (ones that
        were deleted since, or aged out, are forgotten)."""
        with self._lock:
            if self._db is None and not self.path.exists():
                return []  # nothing was ever stored: no database is made for nothing
            db = self._connect()
            db.execute(
                "DELETE FROM unfinished WHERE NOT EXISTS (SELECT 1 FROM responses r "
                "WHERE r.owner = unfinished.owner AND r.id = unfinished.id)"
            )
            rows = db.execute(
                "SELECT u.owner, u.request, u.caller, u.runs, r.response, r.input_items, "
                "r.history FROM unfinished u JOIN responses r ON r.owner = u.owner "
                "AND r.id = u.id ORDER BY r.created_at"
            ).fetchall()
        return [
            Unfinished(
                owner=owner,
                request=_request.decode(request),
                caller=_caller.decode(caller),
                runs=runs,
                stored=Stored(
                    response=_response.decode(response),
                    input_items=_items.decode(input_items),
                    history=_items.decode(history),
                ),
            )
            for owner, request, caller, runs, response, input_items, history in rows
        ]

    def count_run(self, owner: str, response_id: str) -> None:
        with self._lock:
            self._connect().execute(
                "UPDATE unfinished SET runs = runs + 1 WHERE owner = ? AND id = ?",
                (owner, response_id),
            )

    def get(self, owner: str, response_id: str) -> Stored | None:
        with self._lock:
            row = (
                self._connect()
                .execute(
                    "SELECT response, input_items, history, created_at FROM responses "
                    "WHERE owner = ? AND id = ?",
                    (owner, response_id),
                )
                .fetchone()
            )
        if row is None or row[3] < time.time() - self.retention_s:
            return None
        return Stored(
            response=_response.decode(row[0]),
            input_items=_items.decode(row[1]),
            history=_items.decode(row[2]),
        )

    def delete(self, owner: str, response_id: str) -> bool:
        with self._lock:
            cursor = self._connect().execute(
                "DELETE FROM responses WHERE owner = ? AND id = ?", (owner, response_id)
            )
        return cursor.rowcount > 0

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
