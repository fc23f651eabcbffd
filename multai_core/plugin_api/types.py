"""The types a pack sees: what a model is (ModelSpec), what a pack registers (Backend), what a
model needs (MemoryEstimate) and gets (Placement), what the machine has (DeviceSnapshot)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from multai_core.plugin_api.results import VoiceInfo


class ModelSpec(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One servable model: from the config's [[models]] or a plugin's defaults."""

    name: str
    backend: str
    path: str = ""
    aliases: tuple[str, ...] = ()
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    keep_alive: float = 300.0
    pinned: bool = False
    max_concurrency: int | None = None
    """Requests of this model that run at once. None: the backend's own number for this spec
    (``Backend.concurrency``; llama.cpp's parallel slots), else 1."""

    def concurrency(self) -> int:
        return max(1, self.max_concurrency or 1)


class Backend(msgspec.Struct, kw_only=True, frozen=True):
    """What a plugin registers: a backend name, the tasks it serves and its defaults."""

    name: str
    tasks: frozenset[str]
    options_type: type[msgspec.Struct] | None = None
    default_models: Sequence[ModelSpec] = ()
    description: str = ""
    concurrency: Callable[[ModelSpec], int] | None = None
    """How many requests of a model this backend serves at once (for a spec that leaves
    ``max_concurrency`` unset); None means one."""
    voices: Callable[[ModelSpec], list[VoiceInfo]] | None = None
    """Describe a speech model's voices without loading it (from its files, no torch): GET
    /v1/audio/voices then answers at once. None: the listing runs a VoicesTask on the loaded
    model. It may raise the errors of :mod:`multai_core.plugin_api.errors`."""
    continues_final_message: bool = False
    """Its chat packs honour ``ChatTask.continue_final_message`` (an answer prefilled by the
    caller); for a backend without it such a request is a 400, never a silent finished turn."""
    check: Callable[[ModelSpec], str | None] | None = None
    """What is wrong with a configured model that shows without loading it (its ``path`` empty,
    missing or of the wrong kind), in one line, or None. Called for each ``[[models]]`` entry
    at start, after its options passed ``options_type``: stat files, never read weights.
    :func:`multai_core.plugin_api.path_check` builds the usual one. None: nothing checked."""


class EngineStats(msgspec.Struct, kw_only=True, frozen=True):
    """What a loaded model that batches requests reports for /metrics."""

    slots_total: int
    slots_active: int
    decode_steps: int
    """Batched decode calls since load."""
    decoded_sequences: int
    """Sequences summed over those calls (divided by ``decode_steps``: sequences per step)."""


@runtime_checkable
class ReportsEngineStats(Protocol):
    """A handle that implements this is asked for its stats at each /metrics scrape."""

    def engine_stats(self) -> EngineStats: ...


class GpuDevice(msgspec.Struct, kw_only=True, frozen=True):
    index: int
    name: str
    total_bytes: int
    free_bytes: int


class DeviceSnapshot(msgspec.Struct, kw_only=True, frozen=True):
    """Free memory at one moment: every GPU nvidia-ml-py sees, and the host's RAM."""

    gpus: tuple[GpuDevice, ...] = ()
    ram_total_bytes: int = 0
    ram_free_bytes: int = 0


class MemoryEstimate(msgspec.Struct, kw_only=True, frozen=True):
    """What a model needs, from its files' headers.

    ``gpu_bytes`` is the VRAM for a full GPU placement (plus ``gpu_host_bytes`` of RAM beside
    it), ``cpu_bytes`` the RAM for a CPU placement. A backend that can split a model between GPU
    and CPU reports ``layers`` > 0 and ``layer_bytes``: the VRAM one offloaded layer takes (what
    it moves off the RAM), and ``partial_gpu_bytes``: what a partial offload needs on the GPU
    whatever the layer count (e.g. llama.cpp's compute buffer). A placement of n layers needs
    ``partial_gpu_bytes + n * layer_bytes`` VRAM and ``cpu_bytes - n * layer_bytes`` RAM.
    """

    cpu_bytes: int
    gpu_bytes: int = 0
    gpu_host_bytes: int = 0
    layers: int = 0
    layer_bytes: int = 0
    partial_gpu_bytes: int = 0
    supports_gpu: bool = True


PlacementKind = Literal["gpu", "partial", "cpu"]


class Placement(msgspec.Struct, kw_only=True, frozen=True):
    """Where a model goes. ``gpu_layers`` is -1 for all layers, 0 for none. ``cpu_threads``
    is how many CPU threads the engine gives the model (the operator's ``[memory]
    cpu_threads``, or a Ray replica's share of its node); 0 leaves the pack's own default."""

    kind: PlacementKind
    device: str = "cpu"
    gpu_index: int | None = None
    gpu_layers: int = 0
    vram_bytes: int = 0
    ram_bytes: int = 0
    cpu_threads: int = 0
