"""The GPU probe sees the GPUs CUDA_VISIBLE_DEVICES gives this process, as CUDA numbers them
(a Ray replica's, an operator's choice), on an NVML stand-in: this machine has no GPU."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from multai_core.engine.devices import VISIBLE_DEVICES, probe_gpus

GiB = 2**30


class NVMLError(Exception):
    pass


@dataclass(frozen=True)
class Memory:
    total: int
    free: int


@dataclass(frozen=True)
class Gpu:
    uuid: str
    free: int


class FakeNvml:
    """The calls of nvidia-ml-py's pynvml that the probe makes, over a machine's GPUs."""

    NVMLError = NVMLError

    def __init__(self, *gpus: Gpu) -> None:
        self.gpus = gpus
        self.open = False

    def nvmlInit(self) -> None:
        self.open = True

    def nvmlShutdown(self) -> None:
        self.open = False

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Gpu:
        return self.gpus[index]

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> Gpu:
        raise NVMLError(f"no MIG device {uuid}")

    def nvmlDeviceGetUUID(self, gpu: Gpu) -> bytes:
        return gpu.uuid.encode()

    def nvmlDeviceGetName(self, gpu: Gpu) -> str:
        return f"GPU with {gpu.free // GiB} GiB free"

    def nvmlDeviceGetMemoryInfo(self, gpu: Gpu) -> Memory:
        return Memory(total=80 * GiB, free=gpu.free)


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    nvml = FakeNvml(
        Gpu("GPU-aaaa-0000", 10 * GiB),
        Gpu("GPU-bbbb-1111", 20 * GiB),
        Gpu("GPU-cccc-2222", 30 * GiB),
    )
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.delenv(VISIBLE_DEVICES, raising=False)
    return nvml


def free_by_index(monkeypatch: pytest.MonkeyPatch, visible: str | None) -> list[tuple[int, int]]:
    if visible is not None:
        monkeypatch.setenv(VISIBLE_DEVICES, visible)
    return [(gpu.index, gpu.free_bytes // GiB) for gpu in probe_gpus()]


def test_every_gpu_when_the_variable_is_unset(
    machine: FakeNvml, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert free_by_index(monkeypatch, None) == [(0, 10), (1, 20), (2, 30)]
    assert not machine.open


def test_a_replica_given_the_third_gpu_sees_it_as_its_first(
    machine: FakeNvml, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert free_by_index(monkeypatch, "2") == [(0, 30)]


def test_the_order_and_uuids_are_cuda_s(machine: FakeNvml, monkeypatch: pytest.MonkeyPatch) -> None:
    assert free_by_index(monkeypatch, "2,0") == [(0, 30), (1, 10)]
    assert free_by_index(monkeypatch, "GPU-bbbb,GPU-aaaa-0000") == [(0, 20), (1, 10)]


@pytest.mark.parametrize("visible", ["", "-1", "NoDevFiles", "MIG-gone"])
def test_a_cpu_only_replica_sees_none(
    machine: FakeNvml, monkeypatch: pytest.MonkeyPatch, visible: str
) -> None:
    assert free_by_index(monkeypatch, visible) == []


def test_the_list_ends_at_the_first_entry_that_names_no_gpu(
    machine: FakeNvml, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert free_by_index(monkeypatch, "1,7,0") == [(0, 20)]
    assert free_by_index(monkeypatch, "1,1") == [(0, 20)]
