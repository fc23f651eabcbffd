"""The memory estimate (from safetensors headers), the load path's dtype and memory switches,
and cancellation between denoising steps, in process."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from multai_sdxl.estimate import GPU_RUNTIME_BYTES, HOST_RUNTIME_BYTES, gpu_needs, weight_bytes
from multai_sdxl.handle import SdxlHandle, load
from multai_sdxl.model_estimate import estimate_spec
from multai_sdxl.pipeline_folder import read_folder
from sdxl_testing import TinyModels

from multai_core.plugin_api import (
    DeviceSnapshot,
    GpuDevice,
    ImageGenerationTask,
    ModelSpec,
    Placement,
    ServiceUnavailable,
)
from multai_core.plugin_api.torch_device import torch_gpu_build

GiB = 2**30


def _state_bytes(pipe: object) -> int:
    total = 0
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        module = getattr(pipe, name, None)
        if module is not None:
            total += sum(t.numel() * t.element_size() for t in module.state_dict().values())
    return total


def _spec(path: Path, **options: object) -> ModelSpec:
    return ModelSpec(name="tiny", backend="sdxl", path=str(path), options={"threads": 1, **options})


@pytest.fixture(scope="module")
def cpu_handle(tiny_models: TinyModels) -> SdxlHandle:
    return load(_spec(tiny_models.sdxl), Placement(kind="cpu"))


def test_weights_from_headers_match_the_loaded_pipeline(
    tiny_models: TinyModels, cpu_handle: SdxlHandle
) -> None:
    import torch
    from diffusers import AutoPipelineForText2Image

    folder = read_folder(tiny_models.sdxl)
    assert cpu_handle.dtype == "float32"
    assert _state_bytes(cpu_handle.pipe) == weight_bytes(folder, 4)
    half = AutoPipelineForText2Image.from_pretrained(  # type: ignore[no-untyped-call]
        tiny_models.sdxl, dtype=torch.float16, use_safetensors=True, local_files_only=True
    )
    vae_upcast = sum(t.numel() * 2 for t in half.vae.state_dict().values())  # fp32 - fp16
    assert folder.vae_force_upcast
    assert _state_bytes(half) + vae_upcast == weight_bytes(folder, 2)


def test_estimate_for_cpu_and_gpu(tiny_models: TinyModels) -> None:
    folder = read_folder(tiny_models.sdxl)
    # at 256x256 the tiny VAE (tile 64) decodes in tiles when memory is tight
    spec = _spec(tiny_models.sdxl, default_size="256x256")
    full, lean = gpu_needs(folder, (256, 256), 2)
    assert weight_bytes(folder, 2) + GPU_RUNTIME_BYTES < lean < full

    def gpu(free: int) -> DeviceSnapshot:
        return DeviceSnapshot(
            gpus=(GpuDevice(index=0, name="test", total_bytes=80 * GiB, free_bytes=free),),
            ram_total_bytes=64 * GiB,
            ram_free_bytes=32 * GiB,
        )

    roomy = estimate_spec(spec, gpu(80 * GiB))
    assert roomy.gpu_bytes == full
    assert roomy.supports_gpu == torch_gpu_build()  # the CPU build of torch cannot offload
    tight = estimate_spec(spec, gpu(full - 1))
    assert tight.gpu_bytes == lean
    cpu = estimate_spec(spec, DeviceSnapshot())
    assert cpu.cpu_bytes > weight_bytes(folder, 4) + HOST_RUNTIME_BYTES
    # float32 weights on the CPU, float16 on the GPU
    assert cpu.cpu_bytes - HOST_RUNTIME_BYTES > roomy.gpu_bytes - GPU_RUNTIME_BYTES


def test_estimating_reads_headers_only(tiny_models: TinyModels) -> None:
    code = (
        "import sys\n"
        "from multai_core.plugin_api.types import ModelSpec, DeviceSnapshot\n"
        "import multai_sdxl.plugin as p\n"
        f"e = p.multai_estimate_memory(spec=ModelSpec(name='t', backend='sdxl', path={str(tiny_models.sdxl)!r}), devices=DeviceSnapshot())\n"
        "assert e.cpu_bytes > 0\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'PIL') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_variant_weights_are_counted(tiny_models: TinyModels, tmp_path: Path) -> None:
    import torch
    from diffusers import UNet2DConditionModel

    copy = shutil.copytree(tiny_models.sdxl, tmp_path / "variant")
    unet = UNet2DConditionModel.from_pretrained(  # type: ignore[no-untyped-call]
        copy / "unet", dtype=torch.float16
    )
    unet.save_pretrained(copy / "unet", variant="fp16", safe_serialization=True)
    folder = read_folder(copy, variant="fp16")
    assert folder.weights["unet"] == read_folder(copy).weights["unet"]  # same tensors, other file
    # a variant that a component lacks (text encoders) is reported, not silently ignored
    assert "text_encoder" not in folder.weights


def test_unusable_folders_are_refused(tiny_models: TinyModels, tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable, match=r"model_index\.json"):
        read_folder(tmp_path)
    pickled = shutil.copytree(tiny_models.sdxl, tmp_path / "pickled")
    weights = pickled / "unet" / "diffusion_pytorch_model.safetensors"
    weights.rename(weights.with_suffix(".bin"))
    with pytest.raises(ServiceUnavailable, match="pickled"):
        read_folder(pickled)


def test_dtype_and_memory_switches_on_load(tiny_models: TinyModels) -> None:
    import torch

    handle = load(
        _spec(tiny_models.sdxl, dtype="bfloat16", vae_tiling="on", attention_slicing="on"),
        Placement(kind="cpu"),
    )
    assert handle.pipe.unet.dtype == torch.bfloat16
    assert handle.pipe.vae.use_tiling and handle.pipe.vae.use_slicing
    processors = {type(p).__name__ for p in handle.pipe.unet.attn_processors.values()}
    assert processors == {"SlicedAttnProcessor"}
    half_on_cpu = load(_spec(tiny_models.sdxl, dtype="float16"), Placement(kind="cpu"))
    assert half_on_cpu.dtype == "float32"  # float16 kernels are missing on the CPU
    assert not half_on_cpu.pipe.vae.use_tiling


def test_cancellation_stops_between_steps(cpu_handle: SdxlHandle) -> None:
    from multai_sdxl.generate import generate

    task = ImageGenerationTask(prompt="a mug", width=64, height=64, steps=100, seed=1)
    cancel = threading.Event()
    steps_seen: list[int] = []
    original = cpu_handle.pipe.unet.forward

    def counting_forward(*args: object, **kwargs: object) -> object:
        steps_seen.append(1)
        if len(steps_seen) == 3:
            cancel.set()  # as the scheduler does when the client goes away
        return original(*args, **kwargs)

    cpu_handle.pipe.unet.forward = counting_forward
    decode = cpu_handle.pipe.vae.decode
    decoded: list[int] = []

    def counting_decode(*args: object, **kwargs: object) -> object:
        decoded.append(1)
        return decode(*args, **kwargs)

    cpu_handle.pipe.vae.decode = counting_decode
    try:
        result = generate(cpu_handle, task, cancel)
        assert result.images == []
        assert len(steps_seen) == 3  # stopped right after the step during which it was set
        assert decoded == []  # and skipped the VAE decode
        # cancelled before it starts: no step at all
        steps_seen.clear()
        assert generate(cpu_handle, task, cancel).images == []
        assert steps_seen == []
    finally:
        del cpu_handle.pipe.unet.forward
        del cpu_handle.pipe.vae.decode
