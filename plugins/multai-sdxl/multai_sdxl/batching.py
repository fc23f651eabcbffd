"""Running a pipeline for n images: one batched call when memory allows (on a GPU it is split
when free memory is short), cancellable between denoising steps."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

from multai_core.plugin_api import ImageResult, InvalidRequest, RawImage, from_pil
from multai_sdxl.estimate import working_memory
from multai_sdxl.handle import SdxlHandle


class GenerationCancelled(Exception):
    """Raised from the step callback: leaves the pipeline at once (skipping the VAE decode)."""


def stop_when(cancel: threading.Event) -> Callable[..., dict[str, Any]]:
    def on_step_end(
        pipe: Any, _step: int, _timestep: Any, tensors: dict[str, Any]
    ) -> dict[str, Any]:
        if cancel.is_set():
            pipe._interrupt = True
            raise GenerationCancelled
        return tensors

    return on_step_end


def accepted_kwargs(pipe: Any, model: str, **kwargs: Any) -> dict[str, Any]:
    """The arguments ``pipe`` takes: unset ones it lacks are dropped; a set one it lacks is the
    caller's error (e.g. negative_prompt for a pipeline without it). A ``**kwargs`` catch-all
    does not count: pipelines use it for deprecated arguments and ignore the rest."""
    parameters = inspect.signature(pipe.__call__).parameters
    kept: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name in parameters:
            kept[name] = value
        elif value is not None and name != "callback_on_step_end":
            raise InvalidRequest(
                f"The model '{model}' ({type(pipe).__name__}) does not support {name}.",
                param=name,
            )
    return kept


def batch_limit(handle: SdxlHandle, width: int, height: int, guidance: float, n: int) -> int:
    """How many images one pipeline call can make now: all of them on the CPU; on a GPU as
    many as the free memory holds (at least one)."""
    if not handle.on_gpu:
        return n
    import torch

    device = torch.device(handle.device)
    free, _ = torch.cuda.mem_get_info(device)
    budget = free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    work = working_memory(
        handle.folder,
        width,
        height,
        float_bytes=4 if handle.dtype == "float32" else 2,
        guidance=guidance > 1.0,
        tiled=handle.lean,
    )
    return max(1, min(n, (budget - work.fixed) // max(work.per_image, 1)))


def run_batched(
    seeds: list[int],
    limit: int,
    cancel: threading.Event,
    call: Callable[[list[Any], Callable[..., dict[str, Any]]], list[Any]],
) -> ImageResult:
    """``call(generators, on_step_end)`` runs the pipeline for one batch and returns its PIL
    images; each image gets a CPU generator seeded with its own seed (device-independent)."""
    import torch

    on_step_end = stop_when(cancel)
    images: list[RawImage] = []
    try:
        for start in range(0, len(seeds), limit):
            if cancel.is_set():
                return ImageResult(images=[], seeds=[])
            batch = seeds[start : start + limit]
            generators = [torch.Generator("cpu").manual_seed(seed) for seed in batch]
            images.extend(from_pil(image, "RGB") for image in call(generators, on_step_end))
    except GenerationCancelled:
        return ImageResult(images=[], seeds=[])
    return ImageResult(images=images, seeds=seeds)
