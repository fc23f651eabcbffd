"""Memory a pipeline needs: its weights (from safetensors headers, in the dtype it will be
loaded in) plus working memory for one image at the model's default size.

Working memory is modelled per part, in units of one activation tensor:
* UNet: the activations kept for skip connections and the transformer blocks at every level,
  ``UNET_ACTIVATIONS`` tensors of ``channels x latent pixels`` summed over the levels, for a
  batch doubled by classifier-free guidance.
* VAE decode: its last up block runs at full resolution, and a handful of tensors of the top
  channel count are alive at once (``VAE_ACTIVATIONS``). The decoder runs in float32 when its
  config asks to be upcast (SDXL's VAE overflows in float16). With VAE tiling it decodes one
  tile (the VAE's sample size) at a time; with VAE slicing one image at a time.
Attention itself is linear in memory with PyTorch's scaled_dot_product_attention.
"""

from __future__ import annotations

from dataclasses import dataclass

from multai_core.plugin_api import DeviceSnapshot, MemoryEstimate
from multai_core.plugin_api.torch_device import torch_gpu_build
from multai_sdxl.pipeline_folder import PipelineFolder

MiB = 1024 * 1024
UNET_ACTIVATIONS = 16
VAE_ACTIVATIONS = 6
GPU_RUNTIME_BYTES = 64 * MiB
"""cuBLAS/cuDNN workspaces and allocator rounding on the GPU."""
HOST_RUNTIME_BYTES = 512 * MiB
"""torch, diffusers and transformers once imported, in host memory."""
OUTPUT_CHANNELS = 3


@dataclass(frozen=True)
class Working:
    """Working memory for a request: ``fixed`` once per pipeline call, ``per_image`` for each
    image in the batch."""

    fixed: int
    per_image: int

    def total(self, images: int) -> int:
        return self.fixed + self.per_image * images


def weight_bytes(folder: PipelineFolder, float_bytes: int) -> int:
    total = sum(t.bytes_as(float_bytes) for t in folder.weights.values())
    vae = folder.weights.get("vae")
    if vae is not None and folder.vae_force_upcast and float_bytes < 4:
        # diffusers upcasts the VAE to float32 for each decode (and back afterwards)
        total += vae.bytes_as(4) - vae.bytes_as(float_bytes)
    return total


def working_memory(
    folder: PipelineFolder,
    width: int,
    height: int,
    *,
    float_bytes: int,
    guidance: bool,
    tiled: bool,
) -> Working:
    factor = folder.vae_scale_factor
    latent = (width // factor) * (height // factor)
    levels = sum(c * latent // (4**i) for i, c in enumerate(folder.unet_channels))
    batch = 2 if guidance else 1
    unet = UNET_ACTIVATIONS * levels * float_bytes * batch

    vae_bytes = 4 if folder.vae_force_upcast else float_bytes
    side_w, side_h = width, height
    if tiled:
        side_w, side_h = min(width, folder.vae_tile_size), min(height, folder.vae_tile_size)
    vae = VAE_ACTIVATIONS * folder.vae_channels[0] * side_w * side_h * vae_bytes
    # the decoded batch in float32, and its uint8 copy
    output = width * height * OUTPUT_CHANNELS * 5
    return Working(fixed=vae, per_image=unet + output)


def estimate(
    folder: PipelineFolder,
    devices: DeviceSnapshot,
    size: tuple[int, int],
    *,
    gpu_float_bytes: int,
    cpu_float_bytes: int,
) -> MemoryEstimate:
    """For one image of ``size`` (the model's default size)."""
    cpu_work = working_memory(
        folder, *size, float_bytes=cpu_float_bytes, guidance=True, tiled=False
    )
    cpu_bytes = weight_bytes(folder, cpu_float_bytes) + cpu_work.total(1) + HOST_RUNTIME_BYTES
    gpu_bytes = gpu_need(folder, devices, size, gpu_float_bytes)
    return MemoryEstimate(
        cpu_bytes=cpu_bytes,
        gpu_bytes=gpu_bytes,
        gpu_host_bytes=HOST_RUNTIME_BYTES,
        supports_gpu=torch_gpu_build(),
    )


def gpu_need(
    folder: PipelineFolder, devices: DeviceSnapshot, size: tuple[int, int], float_bytes: int
) -> int:
    """VRAM for one image of ``size``; the lean figure (VAE tiling, attention slicing) when no
    GPU has room for the full one."""
    full, lean = gpu_needs(folder, size, float_bytes)
    best_free = max((g.free_bytes for g in devices.gpus), default=0)
    return full if best_free >= full else lean


def gpu_needs(folder: PipelineFolder, size: tuple[int, int], float_bytes: int) -> tuple[int, int]:
    """(full, lean) VRAM for one image of ``size``."""
    weights = weight_bytes(folder, float_bytes) + GPU_RUNTIME_BYTES
    full = working_memory(folder, *size, float_bytes=float_bytes, guidance=True, tiled=False)
    lean = working_memory(folder, *size, float_bytes=float_bytes, guidance=True, tiled=True)
    return weights + full.total(1), weights + lean.total(1)
