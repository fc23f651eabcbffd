"""A loaded model: the transformers model and processor, where they live, and a lock."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from multai_core.plugin_api import ModelSpec, Placement
from multai_llava.estimate import float_bytes
from multai_llava.options import DEFAULT_MAX_CONTEXT, LlavaOptions, parse_options
from multai_llava.runtime import go_offline
from multai_llava.templates import LLAVA_15_TEMPLATE

if TYPE_CHECKING:
    import torch

log = structlog.get_logger(__name__)


@dataclass(eq=False)
class LlavaHandle:
    spec: ModelSpec
    options: LlavaOptions
    placement: Placement
    model: Any
    processor: Any
    device: str
    dtype: torch.dtype
    context: int
    chat_template: str
    quantized: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self.model = None
            gc.collect()
            if self.device.startswith("cuda"):
                import torch

                torch.cuda.empty_cache()


def on_gpu(placement: Placement) -> bool:
    return placement.kind != "cpu" and placement.device.startswith("cuda")


def _torch_dtype(options: LlavaOptions, gpu: bool) -> torch.dtype:
    import torch

    if options.dtype == "bfloat16":
        return torch.bfloat16
    return torch.float16 if float_bytes(options, gpu=gpu) == 2 else torch.float32


def _load_model(path: str, kwargs: dict[str, Any]) -> Any:
    """AutoModelForImageTextToText knows LLaVA and most vision-language models; older
    transformers releases or unusual configs fall back to the LLaVA class itself."""
    from transformers import AutoModelForImageTextToText, LlavaForConditionalGeneration

    try:
        return AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    except ValueError as exc:
        if "Unrecognized configuration class" not in str(exc):
            raise
        return LlavaForConditionalGeneration.from_pretrained(path, **kwargs)


def _context(model: Any, options: LlavaOptions) -> int:
    config = model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    trained = int(getattr(text, "max_position_embeddings", 0) or DEFAULT_MAX_CONTEXT)
    return options.max_context or min(trained, DEFAULT_MAX_CONTEXT)


def load(spec: ModelSpec, placement: Placement) -> LlavaHandle:
    options = parse_options(spec.options)
    if not spec.path or not Path(spec.path).is_dir():
        raise ValueError(f"model {spec.name!r}: the llava backend needs a model folder as path")
    go_offline()
    from transformers import AutoProcessor
    from transformers.utils import logging as hf_logging

    quiet: Any = hf_logging.disable_progress_bar  # untyped in transformers
    quiet()  # the server log is structured; no progress bars in it

    gpu = on_gpu(placement)
    dtype = _torch_dtype(options, gpu)
    kwargs: dict[str, Any] = {
        "dtype": dtype,
        "local_files_only": True,
        "use_safetensors": True,  # never unpickle a .bin
        "trust_remote_code": False,
        "attn_implementation": options.attn_implementation,
    }
    quantized = False
    if gpu:
        kwargs["device_map"] = {"": placement.device}
        if options.quantization == "4bit":
            from transformers import BitsAndBytesConfig

            bnb: Any = BitsAndBytesConfig  # untyped in transformers
            kwargs["quantization_config"] = bnb(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
            )
            quantized = True
    elif options.quantization == "4bit":
        log.warning("llava_4bit_needs_gpu", model=spec.name, loading_as="float32")
    model = _load_model(spec.path, kwargs)
    model.eval()
    if not gpu:
        model.to("cpu")
    processor_class: Any = AutoProcessor  # untyped in transformers
    processor = processor_class.from_pretrained(spec.path, local_files_only=True)
    template = (
        options.chat_template or getattr(processor, "chat_template", None) or LLAVA_15_TEMPLATE
    )
    return LlavaHandle(
        spec=spec,
        options=options,
        placement=placement,
        model=model,
        processor=processor,
        device=placement.device if gpu else "cpu",
        dtype=dtype,
        context=_context(model, options),
        chat_template=template,
        quantized=quantized,
    )


def unload(handle: LlavaHandle) -> None:
    handle.close()
