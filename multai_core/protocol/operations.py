"""MultAI's own endpoints: GET /v1/queue, /v1/queue/{id}, /v1/ps."""

from __future__ import annotations

import msgspec


class QueueEntry(msgspec.Struct, kw_only=True, tag_field="object", tag="queue.entry"):
    id: str
    model: str
    kind: str
    priority: int
    status: str  # queued | running
    position: int | None  # 0 = next to run; null while running
    waited_s: float


class QueueList(msgspec.Struct, kw_only=True, tag_field="object", tag="list"):
    data: list[QueueEntry]


class ResidentModel(msgspec.Struct, kw_only=True, tag_field="object", tag="resident_model"):
    id: str
    backend: str
    placement: str
    device: str
    gpu_layers: int
    vram_bytes: int
    ram_bytes: int
    in_use: int
    idle_s: float
    load_s: float
    keep_alive_s: float
    pinned: bool


class ResidentModelList(msgspec.Struct, kw_only=True, tag_field="object", tag="list"):
    data: list[ResidentModel]
