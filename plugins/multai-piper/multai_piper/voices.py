"""The voices of a Piper model and the names that reach them.

A single-speaker voice file is one voice, named after its dataset (``joe``); a multi-speaker
file has one voice per speaker. OpenAI's voice names all speak the default voice unless the
model's ``options.voices`` points them elsewhere, so code written for OpenAI runs unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from multai_core.plugin_api import (
    OPENAI_VOICES,
    InvalidRequest,
    ModelSpec,
    ServiceUnavailable,
    VoiceInfo,
)
from multai_piper.options import PiperOptions, parse_options
from multai_piper.voice_files import VoiceFile, read_voice

_SHOWN_CHARS = 64


@dataclass(frozen=True)
class Speaker:
    """What a request speaks with: a voice id and, in a multi-speaker file, its speaker id."""

    id: str
    speaker_id: int | None


class VoiceTable:
    def __init__(self, voice: VoiceFile, options: PiperOptions, model: str) -> None:
        self.model = model
        self.language = voice.language
        self.speakers: dict[str, int | None] = (
            dict(voice.speakers) if voice.speakers else {voice.name: None}
        )
        by_speaker = {sid: name for name, sid in voice.speakers.items()}
        fallback = by_speaker.get(voice.default_speaker, next(iter(self.speakers)))
        self.aliases = {name: fallback for name in OPENAI_VOICES} | dict(options.voices)
        self.default = fallback
        if options.default_voice is not None:
            try:
                self.default = self.resolve(options.default_voice).id
            except InvalidRequest:
                raise ServiceUnavailable(
                    f"Model '{model}': default_voice '{options.default_voice}' is not one of "
                    f"its voices ({', '.join(self.speakers)}) nor a name mapped to one."
                ) from None

    def resolve(self, name: str | None) -> Speaker:
        """The voice a request's ``voice`` names; 400 for one this model lacks."""
        if name is None:
            name = self.default
        if name not in self.speakers:
            alias = name if name in self.aliases else name.lower()
            target = self.aliases.get(alias)
            if target is None or target not in self.speakers:
                shown = name if len(name) <= _SHOWN_CHARS else name[:_SHOWN_CHARS] + "..."
                raise InvalidRequest(
                    f"Unknown voice '{shown}' for model '{self.model}'. "
                    f"GET /v1/audio/voices?model={self.model} lists its voices (such as "
                    f"{next(iter(self.speakers))}) and the names mapped to them (OpenAI's "
                    "voices, e.g. alloy).",
                    param="voice",
                    code="voice_not_found",
                )
            name = target
        return Speaker(id=name, speaker_id=self.speakers[name])

    def catalog(self) -> list[VoiceInfo]:
        names: dict[str, list[str]] = {}
        for alias, target in self.aliases.items():
            names.setdefault(target, []).append(alias)
        return [
            VoiceInfo(id=voice, language=self.language, openai_names=sorted(names.get(voice, [])))
            for voice in self.speakers
        ]


def describe(spec: ModelSpec) -> list[VoiceInfo]:
    """The voices of ``spec`` from its JSON config alone (``Backend.voices``: no load)."""
    options = parse_options(spec.options, spec.name)
    return VoiceTable(read_voice(spec, options), options, spec.name).catalog()
