"""The CUDA path: the tiny pipeline in float16 on a GPU, and the memory estimate against what
torch actually allocated. Runs wherever a CUDA GPU is available; skipped (not passed) elsewhere."""

from __future__ import annotations

import threading

import pytest
from sdxl_testing import TinyModels

from multai_core.plugin_api import (
    DeviceSnapshot,
    GpuDevice,
    ImageGenerationTask,
    ModelSpec,
    Placement,
)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
GiB = 2**30


@pytest.mark.parametrize("size", [64, 256])
def test_float16_on_the_gpu_within_the_estimate(tiny_models: TinyModels, size: int) -> None:
    from multai_sdxl.generate import generate
    from multai_sdxl.handle import load
    from multai_sdxl.model_estimate import estimate_spec

    free, total = torch.cuda.mem_get_info(0)
    devices = DeviceSnapshot(
        gpus=(GpuDevice(index=0, name="gpu", total_bytes=total, free_bytes=free),),
        ram_total_bytes=64 * GiB,
        ram_free_bytes=32 * GiB,
    )
    spec = ModelSpec(
        name="tiny",
        backend="sdxl",
        path=str(tiny_models.sdxl),
        options={"default_size": f"{size}x{size}"},
    )
    estimate = estimate_spec(spec, devices)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(0)
    baseline = torch.cuda.memory_allocated(0)
    handle = load(
        spec,
        Placement(
            kind="gpu", device="cuda:0", gpu_index=0, gpu_layers=-1, vram_bytes=estimate.gpu_bytes
        ),
    )
    try:
        assert handle.dtype == "float16"
        assert handle.pipe.unet.dtype == torch.float16
        assert handle.pipe.unet.device.type == "cuda"
        result = generate(
            handle,
            ImageGenerationTask(prompt="a mug", n=1, seed=1, guidance_scale=5.0),
            threading.Event(),
        )
        assert [(i.width, i.height) for i in result.images] == [(size, size)]
        peak = torch.cuda.max_memory_allocated(0) - baseline
        print(f"size {size}: estimate {estimate.gpu_bytes} bytes, peak allocated {peak} bytes")
        assert peak <= estimate.gpu_bytes
        assert estimate.gpu_bytes <= 4 * peak + 128 * 2**20  # an estimate, not a wild guess
    finally:
        handle.close()
