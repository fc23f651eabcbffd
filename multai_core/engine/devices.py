"""Device probes: free VRAM per GPU from nvidia-ml-py, free RAM from psutil."""

from __future__ import annotations

import os
from typing import Any

import psutil
import structlog

from multai_core.plugin_api.types import DeviceSnapshot, GpuDevice

log = structlog.get_logger(__name__)

VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"


def probe_gpus() -> tuple[GpuDevice, ...]:
    """The GPUs this process may use, each with the index CUDA gives it here (the order of
    CUDA_VISIBLE_DEVICES, which Ray sets for a replica, and operators to keep a server off some
    GPUs); NVML itself lists every GPU of the machine."""
    try:
        import pynvml  # provided by nvidia-ml-py
    except ImportError:
        return ()
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return ()  # no driver or no GPU
    try:
        gpus = []
        for index, handle in enumerate(_visible(pynvml)):
            info = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(
                GpuDevice(
                    index=index,
                    name=_text(pynvml.nvmlDeviceGetName(handle)),
                    total_bytes=int(info.total),
                    free_bytes=int(info.free),
                )
            )
        return tuple(gpus)
    except pynvml.NVMLError as exc:
        log.warning("gpu_probe_failed", error=str(exc))
        return ()
    finally:
        pynvml.nvmlShutdown()


def _visible(pynvml: Any) -> list[Any]:
    """NVML's handles of the GPUs CUDA_VISIBLE_DEVICES names (indices, or UUIDs and their
    prefixes, as CUDA takes them), in its order; as CUDA does, the list ends at the first entry
    that names no GPU (so "" and "-1" hide them all). Unset: every GPU."""
    count = pynvml.nvmlDeviceGetCount()
    every = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    listed = os.environ.get(VISIBLE_DEVICES)
    if listed is None:
        return every
    uuids = [_text(pynvml.nvmlDeviceGetUUID(handle)) for handle in every]
    handles: list[Any] = []
    for entry in (part.strip() for part in listed.split(",")):
        if entry.isdigit() and int(entry) < count:
            handle = every[int(entry)]
        elif entry.startswith("GPU-") and (found := [u for u in uuids if u.startswith(entry)]):
            handle = every[uuids.index(found[0])]
        elif entry.startswith("MIG-"):
            try:
                handle = pynvml.nvmlDeviceGetHandleByUUID(entry)
            except pynvml.NVMLError:
                break
        else:
            break
        if any(handle is seen for seen in handles):
            break
        handles.append(handle)
    return handles


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def probe_devices(*, gpus: bool = True) -> DeviceSnapshot:
    vm = psutil.virtual_memory()
    return DeviceSnapshot(
        gpus=probe_gpus() if gpus else (),
        ram_total_bytes=int(vm.total),
        ram_free_bytes=int(vm.available),
    )
