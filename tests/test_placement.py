"""Placement decisions from fake device snapshots."""

from __future__ import annotations

import pytest

from multai_core.engine.placement import choose_placement, insufficient
from multai_core.plugin_api.errors import InsufficientMemory, InvalidRequest
from multai_core.plugin_api.types import DeviceSnapshot, GpuDevice, MemoryEstimate

GiB = 2**30
MODEL = MemoryEstimate(
    cpu_bytes=8 * GiB, gpu_bytes=8 * GiB, gpu_host_bytes=GiB // 2, layers=32, layer_bytes=GiB // 4
)


def snapshot(*gpu_free: float, ram_free: float = 32) -> DeviceSnapshot:
    return DeviceSnapshot(
        gpus=tuple(
            GpuDevice(index=i, name=f"gpu{i}", total_bytes=24 * GiB, free_bytes=int(free * GiB))
            for i, free in enumerate(gpu_free)
        ),
        ram_total_bytes=64 * GiB,
        ram_free_bytes=int(ram_free * GiB),
    )


def test_gpu_fits() -> None:
    placement = choose_placement(MODEL, snapshot(20))
    assert placement is not None
    assert (placement.kind, placement.device, placement.gpu_layers) == ("gpu", "cuda:0", -1)
    assert placement.vram_bytes == 8 * GiB


def test_picks_the_gpu_with_most_free_memory() -> None:
    placement = choose_placement(MODEL, snapshot(4, 12))
    assert placement is not None and placement.device == "cuda:1" and placement.kind == "gpu"


def test_partial_offload_uses_as_many_layers_as_fit() -> None:
    placement = choose_placement(MODEL, snapshot(3), gpu_reserve=GiB // 2)
    assert placement is not None and placement.kind == "partial"
    assert placement.gpu_layers == 10  # 2.5 GiB free after the reserve / 0.25 GiB a layer
    assert placement.vram_bytes + placement.ram_bytes == MODEL.cpu_bytes


def test_cpu_only() -> None:
    placement = choose_placement(MODEL, snapshot())
    assert placement is not None and placement.kind == "cpu" and placement.ram_bytes == 8 * GiB


def test_model_without_layers_skips_partial() -> None:
    whole = MemoryEstimate(cpu_bytes=8 * GiB, gpu_bytes=8 * GiB)
    placement = choose_placement(whole, snapshot(3))
    assert placement is not None and placement.kind == "cpu"


def test_nothing_fits() -> None:
    devices = snapshot(0.1, ram_free=4)
    assert choose_placement(MODEL, devices) is None
    error = insufficient("big", MODEL, devices)
    assert isinstance(error, InsufficientMemory)
    assert error.status_code == 503 and error.code == "insufficient_memory"
    assert "8.00 GiB" in error.message and "4.00 GiB" in error.message


def test_requested_gpu_layers() -> None:
    forced = choose_placement(MODEL, snapshot(20), gpu_layers=4)
    assert forced is not None and forced.kind == "partial" and forced.gpu_layers == 4
    assert choose_placement(MODEL, snapshot(0.5), gpu_layers=20) is None  # does not fit
    everything = choose_placement(MODEL, snapshot(20), gpu_layers=99)
    assert everything is not None and everything.kind == "gpu"
    cpu = choose_placement(MODEL, snapshot(20), gpu_layers=0)
    assert cpu is not None and cpu.kind == "cpu"
    with pytest.raises(InvalidRequest):
        choose_placement(MODEL, snapshot(), gpu_layers=4)


def test_cpu_only_backend_never_gets_a_gpu() -> None:
    cpu_only = MemoryEstimate(cpu_bytes=GiB, supports_gpu=False)
    placement = choose_placement(cpu_only, snapshot(20))
    assert placement is not None and placement.kind == "cpu"


def test_partial_offload_leaves_room_for_the_fixed_gpu_part() -> None:
    estimate = MemoryEstimate(
        cpu_bytes=8 * GiB,
        gpu_bytes=9 * GiB,
        layers=32,
        layer_bytes=GiB // 4,
        partial_gpu_bytes=GiB // 2,
    )
    placement = choose_placement(estimate, snapshot(3))
    assert placement is not None and placement.kind == "partial"
    assert placement.gpu_layers == 10  # (3 GiB - 0.5 GiB compute buffer) / 0.25 GiB a layer
    assert placement.vram_bytes == GiB // 2 + 10 * (GiB // 4)
    assert placement.ram_bytes == 8 * GiB - 10 * (GiB // 4)
