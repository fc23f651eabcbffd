"""Bark's four stages (semantic, coarse, fine, codec), run one at a time with the sub-models'
own generate methods, the way BarkModel.generate chains them, so that what each stage made can
be looked at before the next one runs.

Why: the semantic stage now and then samples its end token first. BarkModel.generate then hands
the codec zero frames, and Encodec's first convolution raises ("Kernel size can't be greater
than actual input size"): a 500 for an ordinary sentence. Here an empty semantic stage is
sampled again (a few times, when sampling), and what still has nothing to decode is a short
silence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from multai_bark.voices import PRESET_LIBRARY
from multai_core.plugin_api import ServiceUnavailable

SEMANTIC_ATTEMPTS = 3
"""Tries of the semantic stage while it ends before its first token (sampling only: greedy
decoding would end the same way every time)."""
SILENT_SEGMENT_S = 0.25
"""What a generation with nothing to decode becomes: a short silence, never an error."""


@dataclass(frozen=True)
class StageKwargs:
    """Generation settings per stage, as the sub-models' generate methods take them."""

    semantic: dict[str, Any] = field(default_factory=dict)
    coarse: dict[str, Any] = field(default_factory=dict)
    fine: dict[str, Any] = field(default_factory=dict)


class BarkStages:
    def __init__(self, model: Any) -> None:
        from transformers.models.bark.generation_configuration_bark import (
            BarkCoarseGenerationConfig,
            BarkFineGenerationConfig,
            BarkSemanticGenerationConfig,
        )

        self.model = model
        generation = model.generation_config
        # the folder's settings, as BarkModel.generate reads them
        self.semantic_config = BarkSemanticGenerationConfig(  # type: ignore[no-untyped-call]
            **generation.semantic_config
        )
        self.coarse_config = BarkCoarseGenerationConfig(**generation.coarse_acoustics_config)
        self.fine_config = BarkFineGenerationConfig(  # type: ignore[no-untyped-call]
            **generation.fine_acoustics_config
        )
        self.codebook_size = int(generation.codebook_size)

    def check_preset(self, preset: str, model: str, arrays: dict[str, np.ndarray]) -> None:
        """A preset made for another model fails deep inside a stage (an index out of range,
        tensors that do not stack): say which preset and what does not fit instead."""
        codebooks = self.codebook_size
        expected = {
            "semantic_prompt": (None, self.semantic_config.semantic_vocab_size),
            "coarse_prompt": (self.coarse_config.n_coarse_codebooks, codebooks),
            "fine_prompt": (self.fine_config.n_fine_codebooks, codebooks),
        }
        for key, (rows, codes) in expected.items():
            array = arrays[key]
            problem = ""
            if rows is not None and array.shape[0] != rows:
                problem = f"has {array.shape[0]} codebooks where the model has {rows}"
            elif array.size and (array.min() < 0 or array.max() >= codes):
                problem = f"holds codes outside 0-{codes - 1}"
            if problem:
                raise ServiceUnavailable(
                    f"Voice preset '{preset}' of model '{model}' does not fit the model: its "
                    f"{key} {problem}. The preset's files (listed in the folder's "
                    f"{PRESET_LIBRARY}) must be made for this model."
                )

    def semantic(
        self, input_ids: Any, attention_mask: Any, history: dict[str, Any], kwargs: dict[str, Any]
    ) -> Any:
        """Semantic tokens, shape (1, n), as the coarse stage takes them (end token included)."""
        return self.model.semantic.generate(
            input_ids,
            attention_mask=attention_mask,
            history_prompt=history,
            semantic_generation_config=self.semantic_config,
            **kwargs,
        )

    def spoken(self, semantic: Any) -> int:
        """How many semantic tokens come before the end token: what the coarse stage voices."""
        return int((semantic[0] != self.semantic_config.semantic_pad_token).sum())

    def acoustic(self, semantic: Any, history: dict[str, Any], kwargs: StageKwargs) -> Any:
        """All eight codebooks, shape (1, codebooks, frames)."""
        coarse = self.model.coarse_acoustics.generate(
            semantic,
            history_prompt=history,
            semantic_generation_config=self.semantic_config,
            coarse_generation_config=self.coarse_config,
            codebook_size=self.codebook_size,
            **kwargs.coarse,
        )
        return self.model.fine_acoustics.generate(
            coarse,
            history_prompt=history,
            semantic_generation_config=self.semantic_config,
            coarse_generation_config=self.coarse_config,
            fine_generation_config=self.fine_config,
            codebook_size=self.codebook_size,
            **kwargs.fine,
        )

    def decode(self, codes: Any, sample_rate: int) -> np.ndarray:
        """Mono float32 samples; a short silence for codes without a single frame."""
        if codes.shape[-1] == 0:
            return silent_segment(sample_rate)
        audio = self.model.codec_decode(codes)
        samples: np.ndarray = audio[0].float().cpu().numpy().reshape(-1)
        return samples


def silent_segment(sample_rate: int) -> np.ndarray:
    return np.zeros(round(SILENT_SEGMENT_S * sample_rate), dtype=np.float32)
