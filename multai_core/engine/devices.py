"""Device probes: free VRAM per GPU from nvidia-ml-py, free RAM from psutil."""

from __future__ import annotations

import psutil
import structlog

from multai_core.plugin_api.types import DeviceSnapshot, GpuDevice

log = structlog.get_logger(__name__)


def probe_gpus() -> tuple[GpuDevice, ...]:
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
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            info = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            gpus.append(
                GpuDevice(
                    index=index,
                    name=name.decode() if isinstance(name, bytes) else str(name),
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


def probe_devices(*, gpus: bool = True) -> DeviceSnapshot:
    vm = psutil.virtual_memory()
    return DeviceSnapshot(
        gpus=probe_gpus() if gpus else (),
        ram_total_bytes=int(vm.total),
        ram_free_bytes=int(vm.available),
    )
