"""The SQLite databases the server keeps in its data directory (stored responses, files,
batches): readable by this user only, and safe against the process being killed."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def open_private_db(path: Path, schema: str) -> sqlite3.Connection:
    """Open (or create) ``path`` with mode 0600 in a 0700 folder and run ``schema``. WAL mode:
    readers do not wait for the writer, and with synchronous=NORMAL a commit survives the
    process being killed (only a power cut may lose the last one). Autocommit: callers open
    their own transactions. One connection shared by threads under the caller's lock."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # created 0600 before SQLite opens it (its -wal and -shm files copy the mode)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db
