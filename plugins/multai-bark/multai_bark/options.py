"""Per-model options of the ``bark`` backend (``[[models]] options = {...}`` in the config)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from multai_core.plugin_api import ServiceUnavailable

DEFAULT_VOICE = "alloy"

# Bark's v2 library has ten English speakers; only v2/en_speaker_9 is a woman's voice, so
# OpenAI's female voices share it. Config can point any name at any preset the folder carries.
OPENAI_VOICES: dict[str, str] = {
    "alloy": "v2/en_speaker_6",
    "ash": "v2/en_speaker_1",
    "ballad": "v2/en_speaker_2",
    "cedar": "v2/en_speaker_3",
    "coral": "v2/en_speaker_9",
    "echo": "v2/en_speaker_0",
    "fable": "v2/en_speaker_5",
    "marin": "v2/en_speaker_9",
    "nova": "v2/en_speaker_9",
    "onyx": "v2/en_speaker_7",
    "sage": "v2/en_speaker_9",
    "shimmer": "v2/en_speaker_9",
    "verse": "v2/en_speaker_8",
}


# transformers fails on a 0 here at every request (a 500 each): the config refuses it at start
Positive = Annotated[float, msgspec.Meta(gt=0.0)]
Probability = Annotated[float, msgspec.Meta(gt=0.0, le=1.0)]


class BarkOptions(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    voices: dict[str, str] = msgspec.field(default_factory=dict)
    """Voice names (OpenAI's or your own) -> speaker preset; merged over the default table."""
    default_voice: str = DEFAULT_VOICE
    """The voice of a request that names none."""
    max_segment_chars: Annotated[int, msgspec.Meta(ge=20, le=1000)] = 200
    """Longest text one generation speaks. Bark says about 13 s per generation, roughly 200
    characters of English; longer sentences are cut at clauses, then at words."""
    sentence_pause_s: Annotated[float, msgspec.Meta(ge=0.0, le=5.0)] = 0.2
    """Silence between two generations."""
    do_sample: bool = True
    """Sampling as suno's Bark does; false gives greedy, repeatable (and flatter) speech."""
    semantic_temperature: Positive | None = None
    """None keeps the model folder's generation config."""
    coarse_temperature: Positive | None = None
    fine_temperature: Positive | None = None
    min_eos_p: Probability | None = None
    """Stop a generation once the end token is this likely (suno uses 0.2)."""
    torch_threads: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """CPU threads for torch; None: the placement's ``cpu_threads``, else torch's default."""


def parse_options(raw: dict[str, Any], model: str) -> BarkOptions:
    try:
        return msgspec.convert(raw, BarkOptions)
    except msgspec.ValidationError as exc:
        raise ServiceUnavailable(
            f"Model '{model}' has invalid bark options in the config: {exc}."
        ) from exc


def voice_table(options: BarkOptions) -> dict[str, str]:
    return {**OPENAI_VOICES, **options.voices}
