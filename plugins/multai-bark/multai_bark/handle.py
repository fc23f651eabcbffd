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
from multai_bark.stages import SEMANTIC_ATTEMPTS, BarkStages, StageKwargs, silent_segment
from multai_bark.voices import VoiceLibrary
from multai_core.plugin_api import ModelSpec, Placement

DEFAULT_MAX_INPUT_TOKENS = 256


@dataclass
class Generated:
    audio: np.ndarray
    """Mono float32 at the model's sample rate."""
    input_tokens: int
    semantic_tokens: int
    """0: the model had nothing to say and the audio is a short silence."""
    attempts: int = 1
    """Semantic stages run; more than one when a sampled one ended before its first token."""


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
        self.sample_rate = int(
            getattr(model.generation_config, "sample_rate", None)
            or model.codec_model.config.sampling_rate
        )
        self._lock = threading.Lock()

    def stage_kwargs(self, stop: Any) -> StageKwargs:
        """The options as each stage's generate takes them, as BarkModel.generate passes them."""
        options = self.options
        sampling = {"do_sample": options.do_sample, "stopping_criteria": stop}
        # min_eos_p goes even when None, as BarkModel.generate passes it: None is no early stop
        semantic = {**sampling, "min_eos_p": options.min_eos_p}
        if options.semantic_temperature is not None:
            semantic["temperature"] = options.semantic_temperature
        coarse = dict(sampling)
        if options.coarse_temperature is not None:
            coarse["temperature"] = options.coarse_temperature
        fine = {}
        if options.fine_temperature is not None:
            fine["temperature"] = options.fine_temperature
        return StageKwargs(semantic=semantic, coarse=coarse, fine=fine)

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
        stages = BarkStages(self.model)  # per call: close() must leave no reference to the model
        arrays = self.voices.arrays(preset)
        stages.check_preset(preset, self.name, arrays)
        history = {key: torch.from_numpy(array).to(self.device) for key, array in arrays.items()}
        kwargs = self.stage_kwargs(StoppingCriteriaList([StopWhenCancelled()]))
        attempts = SEMANTIC_ATTEMPTS if self.options.do_sample else 1
        spoken = attempt = 0
        with self._lock, torch.inference_mode():
            try:
                while not spoken and attempt < attempts and not cancel.is_set():
                    attempt += 1
                    semantic = stages.semantic(
                        encoded["input_ids"].to(self.device),
                        encoded["attention_mask"].to(self.device),
                        history,
                        kwargs.semantic,
                    )
                    spoken = stages.spoken(semantic)
                if cancel.is_set():
                    return None
                if spoken:
                    codes = stages.acoustic(semantic, history, kwargs)
                    samples = stages.decode(codes, self.sample_rate)
                else:
                    samples = silent_segment(self.sample_rate)
            except Exception:
                # a stage stopped half-way (cancelled) leaves the next one a ragged input
                if cancel.is_set():
                    return None
                raise
        if cancel.is_set():
            return None
        return Generated(
            audio=samples,
            input_tokens=int(encoded["attention_mask"].sum()),
            semantic_tokens=spoken,
            attempts=attempt,
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

    threads = options.torch_threads or placement.cpu_threads
    if threads:
        torch.set_num_threads(threads)
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
