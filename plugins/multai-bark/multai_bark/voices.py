"""The speaker presets a Bark model folder carries, and the names that reach them.

A preset is three small integer arrays (semantic, coarse and fine history prompts) saved as
.npy files and listed in ``speaker_embeddings_path.json``, the library transformers'
BarkProcessor saves. They are read here with ``allow_pickle=False``; a request's voice only ever
selects one of the listed names, never a path.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from multai_bark.options import parse_options, voice_table
from multai_core.plugin_api import InvalidRequest, ModelSpec, ServiceUnavailable, VoiceInfo

PRESET_LIBRARY = "speaker_embeddings_path.json"
PRESET_DIMS = {"semantic_prompt": 1, "coarse_prompt": 2, "fine_prompt": 2}
_LANGUAGE = re.compile(r"^(?:v\d+/)?([a-z]{2})_speaker_\d+$")
_SHOWN_CHARS = 64


def preset_language(name: str) -> str | None:
    match = _LANGUAGE.match(name)
    return match.group(1) if match else None


def _shown(name: str) -> str:
    return name if len(name) <= _SHOWN_CHARS else name[:_SHOWN_CHARS] + "..."


def read_library(root: Path) -> dict[str, dict[str, str]]:
    """Preset name -> {prompt key -> path relative to the folder}, in the file's order."""
    path = root / PRESET_LIBRARY
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ServiceUnavailable(
            f"The Bark folder has no {PRESET_LIBRARY}: it needs the speaker presets that the "
            "published suno/bark and suno/bark-small folders carry."
        ) from None
    except (OSError, ValueError) as exc:
        raise ServiceUnavailable(f"Cannot read the Bark voice library: {exc}") from exc
    if not isinstance(raw, dict):
        raise ServiceUnavailable(f"{PRESET_LIBRARY} is not a JSON object.")
    library: dict[str, dict[str, str]] = {}
    for name, files in raw.items():
        if name == "repo_or_path" or not isinstance(files, dict):
            continue
        if all(isinstance(files.get(key), str) for key in PRESET_DIMS):
            library[name] = {key: files[key] for key in PRESET_DIMS}
    if not library:
        raise ServiceUnavailable(f"{PRESET_LIBRARY} lists no complete speaker preset.")
    return library


def _inside(root: Path, relative: str) -> Path:
    """The file a library entry names; lexically inside the folder (the files of a hub cache
    snapshot are symlinks that point outside it, which is fine)."""
    if os.path.isabs(relative):
        raise ServiceUnavailable(f"Voice preset path {relative!r} must be relative.")
    base = os.path.abspath(root)
    target = os.path.abspath(os.path.join(base, relative))
    if os.path.commonpath([base, target]) != base:
        raise ServiceUnavailable(f"Voice preset path {relative!r} leaves the model folder.")
    return Path(target)


class VoiceLibrary:
    def __init__(
        self,
        root: Path,
        library: dict[str, dict[str, str]],
        table: dict[str, str],
        default_voice: str,
        model: str,
    ) -> None:
        self.root = root
        self.library = library
        self.table = table
        self.default_voice = default_voice
        self.model = model
        self._arrays: dict[str, dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_folder(
        cls, root: Path, table: dict[str, str], default_voice: str, model: str
    ) -> VoiceLibrary:
        return cls(root, read_library(root), table, default_voice, model)

    @classmethod
    def for_model(cls, spec: ModelSpec) -> VoiceLibrary:
        """The library of a configured model: its folder's presets, its options' names."""
        options = parse_options(spec.options, spec.name)
        return cls.from_folder(
            Path(spec.path), voice_table(options), options.default_voice, spec.name
        )

    @property
    def presets(self) -> list[str]:
        return list(self.library)

    def resolve(self, voice: str | None) -> str:
        """The preset a request's voice speaks with; 400 for a voice this model lacks."""
        if voice is None:
            voice = self.default_voice
            if voice not in self.library and self.table.get(voice) not in self.library:
                return self.presets[0]
        if voice in self.library:
            return voice
        alias = voice if voice in self.table else voice.lower()
        preset = self.table.get(alias)
        where = f"GET /v1/audio/voices?model={self.model} lists the voices of this model"
        if preset is None:
            raise InvalidRequest(
                f"Unknown voice '{_shown(voice)}' for model '{self.model}'. {where}: its "
                f"speaker presets (such as {self.presets[0]}) and the names mapped to them "
                "(OpenAI's voices, e.g. alloy).",
                param="voice",
                code="voice_not_found",
            )
        if preset not in self.library:
            raise InvalidRequest(
                f"Voice '{alias}' maps to the speaker preset '{preset}', which model "
                f"'{self.model}' does not carry. {where}; the model's options.voices can map "
                "the name to another preset.",
                param="voice",
                code="voice_not_found",
            )
        return preset

    def arrays(self, preset: str) -> dict[str, np.ndarray]:
        """The preset's prompts (read once, then cached)."""
        with self._lock:
            cached = self._arrays.get(preset)
            if cached is not None:
                return cached
            loaded: dict[str, np.ndarray] = {}
            for key, dims in PRESET_DIMS.items():
                path = _inside(self.root, self.library[preset][key])
                try:
                    array = np.load(path, allow_pickle=False)
                except (OSError, ValueError) as exc:
                    raise ServiceUnavailable(
                        f"Voice preset '{preset}' of model '{self.model}' cannot be read "
                        f"({type(exc).__name__})."
                    ) from exc
                if array.ndim != dims or not np.issubdtype(array.dtype, np.integer):
                    raise ServiceUnavailable(
                        f"Voice preset '{preset}' of model '{self.model}': {key} must be a "
                        f"{dims}-D integer array."
                    )
                loaded[key] = array.astype(np.int64)
            self._arrays[preset] = loaded
            return loaded

    def catalog(self) -> list[VoiceInfo]:
        names: dict[str, list[str]] = {}
        for alias, preset in self.table.items():
            names.setdefault(preset, []).append(alias)
        return [
            VoiceInfo(
                id=preset,
                language=preset_language(preset),
                openai_names=sorted(names.get(preset, [])),
            )
            for preset in self.library
        ]
