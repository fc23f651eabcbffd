"""The estimate hook's work: a model spec and the devices to a MemoryEstimate."""

from __future__ import annotations

from multai_core.plugin_api import DeviceSnapshot, MemoryEstimate, ModelSpec
from multai_sdxl.estimate import estimate
from multai_sdxl.options import parse_options
from multai_sdxl.pipeline_folder import read_folder
from multai_sdxl.runtime import float_bytes_for
from multai_sdxl.sizes import default_size


def estimate_spec(spec: ModelSpec, devices: DeviceSnapshot) -> MemoryEstimate:
    options = parse_options(spec.options)
    folder = read_folder(spec.path, options.variant)
    return estimate(
        folder,
        devices,
        default_size(folder, options),
        gpu_float_bytes=float_bytes_for(options, on_gpu=True),
        cpu_float_bytes=float_bytes_for(options, on_gpu=False),
    )
