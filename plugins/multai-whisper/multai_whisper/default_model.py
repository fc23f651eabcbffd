"""The model that works with no configuration: Whisper base from its pip packages."""

from __future__ import annotations

from multai_core.plugin_api import ModelSpec
from multai_whisper import BACKEND_NAME
from multai_whisper.options import PACKAGED_BASE
from multai_whisper.packaged import default_folder, find_packaged

DEFAULT_MODEL_NAME = "whisper-base"
DEFAULT_MODEL_ALIASES = ("whisper-1",)
"""OpenAI's model name, so code written for OpenAI runs unchanged."""


def default_models() -> list[ModelSpec]:
    packaged = find_packaged()
    if packaged is None:
        return []
    return [
        ModelSpec(
            name=DEFAULT_MODEL_NAME,
            backend=BACKEND_NAME,
            path=str(default_folder(packaged)),
            aliases=DEFAULT_MODEL_ALIASES,
            options={"packaged_model": PACKAGED_BASE},
        )
    ]
