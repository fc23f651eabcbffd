"""What the router remembers of who asked for what: each caller's current model, and the replica
each conversation went to (whose prompt cache holds its history)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import Generic, TypeVar

from multai_core.plugin_api.task_text import ChatTask
from multai_core.plugin_api.tasks import Task

V = TypeVar("V")

REMEMBERED = 10_000
"""Entries each table keeps, the least recently used going first."""


class Recent(Generic[V]):
    """A table of at most ``size`` entries that forgets the least recently set."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self._size = size
        self._items: OrderedDict[str, V] = OrderedDict()

    def set(self, key: str, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def get(self, key: str) -> V | None:
        return self._items.get(key)

    def items(self) -> list[tuple[str, V]]:
        return list(self._items.items())

    def newest_first(self) -> Iterator[tuple[str, V]]:
        """The entries, the most recently set first."""
        return reversed(self._items.items())

    def __len__(self) -> int:
        return len(self._items)


def conversation_of(task: Task, owner: str) -> str | None:
    """A digest of a chat request's caller (``owner``) and its messages up to the first user
    turn, which every later turn of the conversation resends unchanged; None for other tasks."""
    payload = task.payload
    if not isinstance(payload, ChatTask):
        return None
    digest = hashlib.blake2b(owner.encode(), digest_size=16)
    for message in payload.messages:
        digest.update(f"\0{message.role}\0{len(message.images())}\0".encode())
        digest.update(message.text().encode())
        if message.role == "user":
            break
    return digest.hexdigest()
