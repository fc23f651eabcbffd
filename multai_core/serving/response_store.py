"""Stored Responses (``store: true``) in SQLite, in the configured data directory: the
response, its input items and the conversation before them, per owner (the caller's
Principal.id: another key sees nothing). Opened on first use; rows older than the retention
period are deleted as new ones arrive. Calls block briefly: callers run them in a thread."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import msgspec

from multai_core.plugin_api.errors import MultaiError
from multai_core.protocol import responses as api

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
"""
_items = msgspec.json.Decoder(list[dict[str, Any]])
_response = msgspec.json.Decoder(api.Response)
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


class ResponseStore:
    def __init__(self, data_dir: Path, retention_s: float) -> None:
        self.path = data_dir / "responses.sqlite3"
        self.retention_s = retention_s
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            os.chmod(self.path, 0o600)
            self._db = db
        return self._db

    def put(
        self,
        owner: str,
        response: api.Response,
        input_items: list[dict[str, Any]],
        history: list[dict[str, Any]],
    ) -> None:
        now = time.time()
        with self._lock:
            db = self._connect()
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
            db.execute("DELETE FROM responses WHERE created_at < ?", (now - self.retention_s,))

    def update(self, owner: str, response: api.Response) -> None:
        """A new state of a stored response (a background one moving on)."""
        with self._lock:
            self._connect().execute(
                "UPDATE responses SET response = ? WHERE owner = ? AND id = ?",
                (_encode(response), owner, response.id),
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
