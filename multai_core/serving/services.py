"""What the serving layer needs from the running server, in one object."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pluggy

from multai_core.config import Config, data_dir
from multai_core.engine.memory import MemoryManager
from multai_core.engine.metrics import Metrics
from multai_core.engine.scheduler import Scheduler
from multai_core.media.decoding import MediaDecoding
from multai_core.registry import Registry
from multai_core.serving.batch_store import BatchStore
from multai_core.serving.file_store import FileStore
from multai_core.serving.image_store import ImageStore
from multai_core.serving.operations import ClusterView
from multai_core.serving.response_store import ResponseStore
from multai_core.store.mirror import OtherStores


@dataclass
class Services:
    config: Config
    pm: pluggy.PluginManager
    registry: Registry
    memory: MemoryManager
    scheduler: Scheduler
    metrics: Metrics
    image_store: ImageStore | None = None
    started_at: float = 0.0
    # under Ray Serve, the engine replicas, whose queues, models and metrics the operations
    # endpoints show instead of this process's (which runs no jobs itself)
    cluster: ClusterView | None = None
    # under Ray Serve, the model stores of the nodes besides this one, which a pull or delete
    # at this server fills or empties too
    other_stores: OtherStores | None = None
    # the decode pool and the server-wide budgets of decoded media, made from config.server
    decoding: MediaDecoding = field(init=False)
    # stored Responses (SQLite in config.server.data_dir, opened on first use)
    response_store: ResponseStore = field(init=False)
    # uploaded and batch files (SQLite and a files folder in config.server.data_dir)
    file_store: FileStore = field(init=False)
    # batches and their lines (SQLite in config.server.data_dir, opened on first use)
    batch_store: BatchStore = field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self.started_at or time.time()
        server = self.config.server
        self.decoding = MediaDecoding(
            threads=server.decode_threads,
            max_pixels_in_flight=server.max_decode_pixels_in_flight,
            max_audio_seconds_in_flight=server.max_audio_seconds_in_flight,
        )
        self.response_store = ResponseStore(data_dir(server), server.responses_retention_s)
        self.file_store = FileStore(data_dir(server))
        self.batch_store = BatchStore(data_dir(server))
