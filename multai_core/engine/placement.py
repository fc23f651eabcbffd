"""Placement: full GPU, partial offload, or CPU, from an estimate and a device snapshot."""

from __future__ import annotations

from multai_core.plugin_api.errors import InsufficientMemory, InvalidRequest
from multai_core.plugin_api.types import DeviceSnapshot, MemoryEstimate, Placement


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def choose_placement(
    estimate: MemoryEstimate,
    devices: DeviceSnapshot,
    *,
    gpu_reserve: int = 0,
    ram_reserve: int = 0,
    gpu_layers: int | None = None,
    cpu_threads: int = 0,
) -> Placement | None:
    """The best placement that fits, or None. Prefers the GPU with the most free memory:
    full GPU, then partial offload with as many layers as fit, then CPU.
    ``gpu_layers`` forces an offload (the request's n_gpu_layers); ``cpu_threads`` goes into
    the placement as it is."""
    ram_free = devices.ram_free_bytes - ram_reserve
    gpus = (
        sorted(devices.gpus, key=lambda g: g.free_bytes, reverse=True)
        if estimate.supports_gpu
        else []
    )

    if gpu_layers is not None and gpu_layers != 0:
        if not gpus:
            raise InvalidRequest(
                "n_gpu_layers asks for GPU offload, but this server has no usable GPU.",
                param="n_gpu_layers",
            )
        if gpu_layers == -1 or (estimate.layers and gpu_layers >= estimate.layers):
            gpu_layers = -1
        elif not estimate.layers:
            raise InvalidRequest(
                "This model cannot be split between GPU and CPU; use n_gpu_layers -1 or 0.",
                param="n_gpu_layers",
            )
    for gpu in gpus:
        vram_free = gpu.free_bytes - gpu_reserve
        if (
            gpu_layers in (None, -1)
            and estimate.gpu_bytes <= vram_free
            and estimate.gpu_host_bytes <= ram_free
        ):
            return Placement(
                kind="gpu",
                device=f"cuda:{gpu.index}",
                gpu_index=gpu.index,
                gpu_layers=-1,
                vram_bytes=estimate.gpu_bytes,
                ram_bytes=estimate.gpu_host_bytes,
                cpu_threads=cpu_threads,
            )
        if estimate.layers and estimate.layer_bytes and gpu_layers != -1:
            for_layers = vram_free - estimate.partial_gpu_bytes
            fit = (
                min(for_layers // estimate.layer_bytes, estimate.layers - 1)
                if for_layers > 0
                else 0
            )
            layers = fit if gpu_layers is None else gpu_layers
            if layers > fit:
                continue
            vram = estimate.partial_gpu_bytes + layers * estimate.layer_bytes
            ram = estimate.cpu_bytes - layers * estimate.layer_bytes
            if layers > 0 and ram <= ram_free:
                return Placement(
                    kind="partial",
                    device=f"cuda:{gpu.index}",
                    gpu_index=gpu.index,
                    gpu_layers=layers,
                    vram_bytes=vram,
                    ram_bytes=ram,
                    cpu_threads=cpu_threads,
                )
    if gpu_layers not in (None, 0):
        return None
    if estimate.cpu_bytes <= ram_free:
        return Placement(kind="cpu", ram_bytes=estimate.cpu_bytes, cpu_threads=cpu_threads)
    return None


def insufficient(
    name: str, estimate: MemoryEstimate, devices: DeviceSnapshot
) -> InsufficientMemory:
    vram = max((g.free_bytes for g in devices.gpus), default=0)
    needed = f"{_gib(estimate.cpu_bytes)} of RAM"
    if estimate.supports_gpu and estimate.gpu_bytes:
        needed += f" or {_gib(estimate.gpu_bytes)} of GPU memory"
    return InsufficientMemory(
        f"Model '{name}' needs {needed}; free now: {_gib(devices.ram_free_bytes)} of RAM, "
        f"{_gib(vram)} of GPU memory. Unload other models or add memory.",
        retry_after=30,
    )
