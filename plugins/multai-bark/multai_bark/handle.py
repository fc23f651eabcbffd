"""A loaded Bark model: transformers' BarkModel from safetensors, its tokenizer and the voice
library, on the placement's device (float16 on a GPU, float32 on the CPU)."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from multai_bark.options import BarkOptions, parse_options, voice_table
from multai_bark.runtime import go_offline
from multai_bark.safetensors_header import weight_files
from multai_bark.voices import VoiceLibrary
from multai_core.plugin_api import ModelSpec, Placement

DEFAULT_MAX_INPUT_TOKENS = 256
DEFAULT_SEMANTIC_RATE_HZ = 49.9


@dataclass
class Generated:
    audio: np.ndarray
    """Mono float32 at the model's sample rate."""
    input_tokens: int
    semantic_tokens: int


class BarkHandle:
    def __init__(
        self,
        *,
        name: str,
        model: Any,
        tokenizer: Any,
        voices: VoiceLibrary,
        options: BarkOptions,
        device: str,
    ) -> None:
        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        self.voices = voices
        self.options = options
        self.device = device
        semantic = dict(model.generation_config.semantic_config or {})
        self.max_input_tokens = int(
            semantic.get("max_input_semantic_length", DEFAULT_MAX_INPUT_TOKENS)
        )
        self.semantic_rate_hz = float(semantic.get("semantic_rate_hz", DEFAULT_SEMANTIC_RATE_HZ))
        self.sample_rate = int(
            getattr(model.generation_config, "sample_rate", None)
            or model.codec_model.config.sampling_rate
        )
        self._lock = threading.Lock()

    def generation_kwargs(self) -> dict[str, Any]:
        options = self.options
        kwargs: dict[str, Any] = {"do_sample": options.do_sample}
        for key, value in (
            ("semantic_temperature", options.semantic_temperature),
            ("coarse_temperature", options.coarse_temperature),
            ("fine_temperature", options.fine_temperature),
            ("min_eos_p", options.min_eos_p),
        ):
            if value is not None:
                kwargs[key] = value
        return kwargs

    def generate(self, text: str, preset: str, cancel: threading.Event) -> Generated | None:
        """Speak one piece of text with one preset; None if cancelled meanwhile."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        class StopWhenCancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:  # noqa: ARG002
                batch = input_ids.shape[0]
                return torch.full(
                    (batch,), cancel.is_set(), dtype=torch.bool, device=input_ids.device
                )

        encoded = self.tokenizer(
            text,
            return_tensors="pt",
            padding="max_length",
            truncation=True,
            max_length=self.max_input_tokens,
            add_special_tokens=False,
            return_attention_mask=True,
        )
        history = {
            key: torch.from_numpy(array).to(self.device)
            for key, array in self.voices.arrays(preset).items()
        }
        with self._lock, torch.inference_mode():
            try:
                audio = self.model.generate(
                    input_ids=encoded["input_ids"].to(self.device),
                    attention_mask=encoded["attention_mask"].to(self.device),
                    history_prompt=history,
                    stopping_criteria=StoppingCriteriaList([StopWhenCancelled()]),
                    **self.generation_kwargs(),
                )
            except Exception:
                # a stage stopped half-way (cancelled) leaves the next one a ragged input
                if cancel.is_set():
                    return None
                raise
        if cancel.is_set():
            return None
        samples = audio[0].float().cpu().numpy().reshape(-1)
        return Generated(
            audio=samples,
            input_tokens=int(encoded["attention_mask"].sum()),
            semantic_tokens=round(samples.size / self.sample_rate * self.semantic_rate_hz),
        )

    def close(self) -> None:
        on_gpu = self.device.startswith("cuda")
        self.model = None
        gc.collect()
        if on_gpu:
            import torch

            torch.cuda.empty_cache()


def load(spec: ModelSpec, placement: Placement) -> BarkHandle:
    options = parse_options(spec.options, spec.name)
    root = Path(spec.path)
    weight_files(root)  # refuses a folder without safetensors before transformers looks
    voices = VoiceLibrary.from_folder(root, voice_table(options), options.default_voice, spec.name)
    go_offline()
    import torch
    from transformers import AutoTokenizer, BarkModel

    if options.torch_threads:
        torch.set_num_threads(options.torch_threads)
    device = placement.device if placement.kind != "cpu" else "cpu"
    on_gpu = device.startswith("cuda")
    model = BarkModel.from_pretrained(
        root,
        dtype=torch.float16 if on_gpu else torch.float32,
        use_safetensors=True,
        local_files_only=True,
        device_map=device,  # straight onto the device, without a copy in RAM first
    )  # in eval mode already
    tokenizer = AutoTokenizer.from_pretrained(root, local_files_only=True)
    return BarkHandle(
        name=spec.name,
        model=model,
        tokenizer=tokenizer,
        voices=voices,
        options=options,
        device=device,
    )


def unload(handle: BarkHandle) -> None:
    handle.close()
