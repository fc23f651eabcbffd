"""A loaded pipeline: text-to-image, and the image-to-image and inpainting pipelines made
from it on first use (they share its components, so they cost no memory)."""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

import structlog

from multai_core.plugin_api import InvalidRequest, ModelSpec, Placement
from multai_sdxl.estimate import gpu_needs
from multai_sdxl.options import SdxlOptions, parse_options
from multai_sdxl.pipeline_folder import PipelineFolder, read_folder
from multai_sdxl.runtime import dtype_name, import_diffusers, torch_dtype
from multai_sdxl.sizes import default_size

log = structlog.get_logger(__name__)


class SdxlHandle:
    def __init__(
        self,
        spec: ModelSpec,
        placement: Placement,
        options: SdxlOptions,
        folder: PipelineFolder,
        pipe: Any,
        dtype: str,
        lean: bool,
    ) -> None:
        self.spec = spec
        self.placement = placement
        self.options = options
        self.folder = folder
        self.pipe = pipe
        self.dtype = dtype
        self.lean = lean
        self.device = placement.device
        self._variants: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda")

    def image_to_image(self) -> Any:
        return self._variant("AutoPipelineForImage2Image", "edit images")

    def inpainting(self) -> Any:
        return self._variant("AutoPipelineForInpainting", "edit images with a mask")

    def _variant(self, auto_class: str, what: str) -> Any:
        with self._lock:
            if auto_class not in self._variants:
                diffusers = import_diffusers()
                try:
                    pipe = getattr(diffusers, auto_class).from_pipe(self.pipe)
                except ValueError as exc:  # AutoPipeline has no such task for this class
                    raise InvalidRequest(
                        f"The model '{self.spec.name}' ({self.folder.class_name}) cannot "
                        f"{what}; use a pipeline that supports it.",
                        param="mask" if "mask" in what else "model",
                        code="unsupported_operation",
                    ) from exc
                pipe.set_progress_bar_config(disable=True)
                self._variants[auto_class] = pipe
            return self._variants[auto_class]

    def close(self) -> None:
        self._variants.clear()
        self.pipe = None
        gc.collect()
        if self.on_gpu:
            import torch

            torch.cuda.empty_cache()


def _switch(setting: str, tight: bool) -> bool:
    return setting == "on" or (setting == "auto" and tight)


def load(spec: ModelSpec, placement: Placement) -> SdxlHandle:
    options = parse_options(spec.options)
    folder = read_folder(spec.path, options.variant)
    on_gpu = placement.device.startswith("cuda")
    dtype = dtype_name(options, on_gpu)
    diffusers = import_diffusers()
    import torch

    threads = options.threads or placement.cpu_threads
    if threads and not on_gpu:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    pipe = diffusers.AutoPipelineForText2Image.from_pretrained(
        str(folder.path),
        dtype=torch_dtype(dtype),
        use_safetensors=True,
        local_files_only=True,
        variant=options.variant,
    )
    pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(placement.device)
    tight = False
    if on_gpu:
        size = default_size(folder, options)
        full, _ = gpu_needs(folder, size, 4 if dtype == "float32" else 2)
        tight = placement.vram_bytes < full
    if _switch(options.attention_slicing, tight):
        pipe.enable_attention_slicing()
    vae = getattr(pipe, "vae", None)
    if vae is not None:
        # decoding a batch one image at a time costs little and keeps the decode's memory flat
        vae.enable_slicing()
        if _switch(options.vae_tiling, tight):
            vae.enable_tiling()
    log.info(
        "sdxl_loaded",
        model=spec.name,
        pipeline=type(pipe).__name__,
        device=placement.device,
        dtype=dtype,
        lean=tight,
        seconds=round(time.perf_counter() - started, 3),
    )
    return SdxlHandle(spec, placement, options, folder, pipe, dtype, tight)


def unload(handle: SdxlHandle) -> None:
    handle.close()
