"""A loaded model: faster-whisper's WhisperModel on the placement's device and compute type."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import structlog

from multai_core.plugin_api import ModelSpec, Placement, offline
from multai_whisper.model_files import folder_for_load
from multai_whisper.options import (
    WhisperOptions,
    compute_type_for,
    on_gpu,
    parse_options,
    resolve_cpu_threads,
)

log = structlog.get_logger(__name__)


@dataclass(eq=False)
class WhisperHandle:
    spec: ModelSpec
    options: WhisperOptions
    placement: Placement
    model: Any  # faster_whisper.WhisperModel
    compute_type: str
    supported_languages: frozenset[str]
    multilingual: bool
    closed: bool = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        model, self.model = self.model, None
        # Free the weights now rather than whenever the garbage collector runs.
        unload = getattr(getattr(model, "model", None), "unload_model", None)
        if unload is not None:
            unload()


def gpu_index(placement: Placement) -> int:
    if placement.gpu_index is not None:
        return placement.gpu_index
    _, _, index = placement.device.partition(":")
    return int(index) if index.isdigit() else 0


def load(spec: ModelSpec, placement: Placement) -> WhisperHandle:
    options = parse_options(spec.options)
    folder = folder_for_load(spec, options)
    offline.enforce(force=True)
    from faster_whisper import WhisperModel

    # faster-whisper logs each request's detected language and audio duration at INFO: facts
    # about the content, which this server keeps out of its log
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)

    gpu = on_gpu(placement)
    compute_type = compute_type_for(options, placement)
    model = WhisperModel(
        str(folder),
        device="cuda" if gpu else "cpu",
        device_index=gpu_index(placement) if gpu else 0,
        compute_type=compute_type,
        cpu_threads=resolve_cpu_threads(options, placement),
        num_workers=spec.concurrency(),
        local_files_only=True,
    )
    from multai_whisper.features import BlockwiseFeatureExtractor

    model.feature_extractor = BlockwiseFeatureExtractor(**model.feat_kwargs)
    log.info("whisper_loaded", model=spec.name, device=placement.device, compute_type=compute_type)
    return WhisperHandle(
        spec=spec,
        options=options,
        placement=placement,
        model=model,
        compute_type=compute_type,
        supported_languages=frozenset(model.supported_languages),
        multilingual=bool(model.model.is_multilingual),
    )


def unload(handle: WhisperHandle) -> None:
    handle.close()
