"""Uploaded files (/v1/files) and the files the batches write: the bytes in
``<data_dir>/files/<id>`` (mode 0600, written under a temporary name then renamed) and one row
each in ``<data_dir>/files.sqlite3``, per owner (the caller's Principal.id: another key's file
is a 404 like one that does not exist). Calls block briefly: async callers run them in a
thread."""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import msgspec

from multai_core.plugin_api.errors import InvalidRequest, MultaiError
from multai_core.serving.private_db import open_private_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    filename TEXT NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at INTEGER,
    status_details TEXT
);
CREATE INDEX IF NOT EXISTS files_owner ON files (owner, seq);
"""
_GET = (
    "SELECT id, created_at, bytes, filename, purpose, status, expires_at, status_details "
    "FROM files WHERE owner = ? AND id = ?"
)
# a page after the cursor's seq; a NULL purpose matches every file
_PAGE = {
    "asc": (
        "SELECT id, created_at, bytes, filename, purpose, status, expires_at, status_details "
        "FROM files WHERE owner = :owner AND (:purpose IS NULL OR purpose = :purpose) "
        "AND seq > :cursor ORDER BY seq ASC LIMIT :limit"
    ),
    "desc": (
        "SELECT id, created_at, bytes, filename, purpose, status, expires_at, status_details "
        "FROM files WHERE owner = :owner AND (:purpose IS NULL OR purpose = :purpose) "
        "AND seq < :cursor ORDER BY seq DESC LIMIT :limit"
    ),
}
_TEMPORARY = ".part"
_ORPHAN_AGE_S = 3600.0
"""A file with no row is removed at open only once this old: another process sharing the data
directory may be between writing a file and committing its row."""


class FileObject(msgspec.Struct, kw_only=True):
    """OpenAI's file object."""

    id: str
    object: str = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: str = "processed"
    expires_at: int | None = None
    status_details: str | None = None


class FileNotFound(MultaiError):
    """A file that does not exist or is another key's: the same answer for both."""

    status_code = 404
    type = "invalid_request_error"

    @classmethod
    def named(cls, file_id: str, param: str | None = "file_id") -> FileNotFound:
        return cls(f"No such File object: {file_id}", param=param)


def _file(row: tuple[Any, ...]) -> FileObject:
    file_id, created_at, size, filename, purpose, status, expires_at, details = row
    return FileObject(
        id=file_id,
        created_at=created_at,
        bytes=size,
        filename=filename,
        purpose=purpose,
        status=status,
        expires_at=expires_at,
        status_details=details,
    )


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore:
    def __init__(self, root: Path) -> None:
        self.folder = root / "files"
        self.path = root / "files.sqlite3"
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            db = open_private_db(self.path, _SCHEMA)
            self._db = db
            self._sweep(db)
        return self._db

    def _sweep(self, db: sqlite3.Connection) -> None:
        """Remove what a crash left behind: half-written files and files whose row was never
        committed (or whose row was deleted before the file was)."""
        known = {row[0] for row in db.execute("SELECT id FROM files")}
        old = time.time() - _ORPHAN_AGE_S
        for entry in self.folder.iterdir():
            with contextlib.suppress(OSError):
                if entry.name not in known and entry.stat().st_mtime < old:
                    entry.unlink()

    def _write(self, file_id: str, content: bytes) -> None:
        final = self.folder / file_id
        partial = self.folder / f"{file_id}{_TEMPORARY}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, final)
            _sync_folder(self.folder)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise

    def create(self, owner: str, *, filename: str, purpose: str, content: bytes) -> FileObject:
        with self._lock:
            self._connect()
        file = FileObject(
            id=f"file-{secrets.token_hex(12)}",
            bytes=len(content),
            created_at=int(time.time()),
            filename=filename,
            purpose=purpose,
        )
        self._write(file.id, content)
        try:
            with self._lock:
                self._connect().execute(
                    "INSERT INTO files (id, owner, created_at, bytes, filename, purpose, status) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        file.id,
                        owner,
                        file.created_at,
                        file.bytes,
                        filename,
                        purpose,
                        file.status,
                    ),
                )
        except BaseException:
            with contextlib.suppress(OSError):
                (self.folder / file.id).unlink()
            raise
        return file

    def _row(self, owner: str, file_id: str) -> FileObject:
        with self._lock:
            row = self._connect().execute(_GET, (owner, file_id)).fetchone()
        if row is None:
            raise FileNotFound.named(file_id)
        return _file(row)

    def get(self, owner: str, file_id: str) -> FileObject:
        return self._row(owner, file_id)

    def content(self, owner: str, file_id: str) -> bytes:
        file = self._row(owner, file_id)
        try:
            return (self.folder / file.id).read_bytes()
        except FileNotFoundError:  # deleted meanwhile
            raise FileNotFound.named(file_id) from None

    def list(
        self,
        owner: str,
        *,
        purpose: str | None = None,
        limit: int = 10000,
        after: str | None = None,
        order: str = "desc",
    ) -> tuple[list[FileObject], bool]:
        """A page of the owner's files, newest first (``order="desc"``) or oldest first, and
        whether more follow. ``after`` is the id of the last file of the previous page."""
        if order not in _PAGE:
            raise InvalidRequest("order must be 'asc' or 'desc'.", param="order")
        cursor = 0 if order == "asc" else 2**63 - 1
        with self._lock:
            db = self._connect()
            if after is not None:
                found = db.execute(
                    "SELECT seq FROM files WHERE owner = ? AND id = ?", (owner, after)
                ).fetchone()
                if found is None:
                    raise InvalidRequest(
                        f"after: no file '{after}' (deleted since?). Pass the id of the last "
                        "file of the previous page, or leave after out to start again.",
                        param="after",
                    )
                cursor = found[0]
            rows = db.execute(
                _PAGE[order],
                {"owner": owner, "purpose": purpose, "cursor": cursor, "limit": limit + 1},
            ).fetchall()
        return [_file(row) for row in rows[:limit]], len(rows) > limit

    def delete(self, owner: str, file_id: str) -> FileObject:
        file = self._row(owner, file_id)
        with self._lock:
            cursor = self._connect().execute(
                "DELETE FROM files WHERE owner = ? AND id = ?", (owner, file_id)
            )
        if cursor.rowcount == 0:  # deleted meanwhile
            raise FileNotFound.named(file_id)
        with contextlib.suppress(FileNotFoundError):
            (self.folder / file.id).unlink()
        return file

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
