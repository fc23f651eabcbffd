"""Per-model options of the ``piper`` backend (``[[models]] options = {...}`` in the config)."""

from __future__ import annotations

import os
from typing import Annotated, Any

import msgspec

from multai_core.plugin_api import ServiceUnavailable

CPU_THREADS_ENV = "MULTAI_PIPER_CPU_THREADS"


class PiperOptions(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    config_path: str | None = None
    """The voice's JSON config; None: the model path with ``.json`` appended, as Piper does."""
    voices: dict[str, str] = msgspec.field(default_factory=dict)
    """Voice names (OpenAI's or your own) -> a voice of the model (a speaker of a multi-speaker
    voice); merged over the default table, where every OpenAI name speaks the default voice."""
    default_voice: str | None = None
    """The voice of a request that names none; None: the voice file's default speaker."""
    length_scale: Annotated[float, msgspec.Meta(gt=0.0, le=10.0)] | None = None
    """The pace at speed 1.0 (larger is slower); None keeps the voice file's."""
    noise_scale: Annotated[float, msgspec.Meta(ge=0.0, le=2.0)] | None = None
    noise_w_scale: Annotated[float, msgspec.Meta(ge=0.0, le=2.0)] | None = None
    sentence_pause_s: Annotated[float, msgspec.Meta(ge=0.0, le=5.0)] = 0.15
    """Silence between two sentences at speed 1.0 (it shortens as the speed rises)."""
    max_piece_phonemes: Annotated[int, msgspec.Meta(ge=40, le=2000)] = 200
    """Most phonemes one inference speaks at the voice's own pace (about 10 s of audio); a
    longer sentence is cut at its pauses, then between words. The inference's memory grows
    with the audio it makes, so this bounds the memory estimate."""
    cpu_threads: Annotated[int, msgspec.Meta(ge=0)] = 0
    """onnxruntime threads on the CPU; 0: env MULTAI_PIPER_CPU_THREADS, else onnxruntime's
    default (one per core)."""


def parse_options(raw: dict[str, Any], model: str) -> PiperOptions:
    try:
        return msgspec.convert(raw, PiperOptions)
    except msgspec.ValidationError as exc:
        raise ServiceUnavailable(
            f"Model '{model}' has invalid piper options in the config: {exc}."
        ) from exc


def resolve_cpu_threads(options: PiperOptions, placement_threads: int = 0) -> int:
    """The intra-op thread count for onnxruntime: the options', else MULTAI_PIPER_CPU_THREADS,
    else the placement's ``cpu_threads``; 0 leaves its default."""
    if options.cpu_threads:
        return options.cpu_threads
    env = os.environ.get(CPU_THREADS_ENV, "").strip()
    return int(env) if env.isdigit() and int(env) > 0 else placement_threads
