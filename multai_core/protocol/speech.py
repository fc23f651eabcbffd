"""POST /v1/audio/speech and GET /v1/audio/voices.

The request keeps the thesis's names beside OpenAI's: ``prompt`` for ``input`` and
``voice_preset`` for ``voice``. Checks that need a message naming the field (empty or too long
input, an unknown format) are in :meth:`SpeechRequest.problems`, so the server can answer with
OpenAI's error shape and the right ``param``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from multai_core.protocol.common import Priority

SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",  # Ogg Opus (RFC 7845)
    "aac": "audio/aac",  # ADTS
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",  # raw 16-bit little-endian mono at the model's rate
}
STREAM_FORMATS = ("audio", "sse")
MAX_INPUT_CHARS = 4096
"""OpenAI's limit on ``input``."""


class CustomVoice(msgspec.Struct, kw_only=True):
    """OpenAI's ``{"id": ...}`` voice reference; here the id is any voice the model has."""

    id: Annotated[str, msgspec.Meta(min_length=1)]


class SpeechRequest(msgspec.Struct, kw_only=True):
    model: Annotated[str, msgspec.Meta(min_length=1)]
    input: str | None = None
    prompt: str | None = None
    voice: str | CustomVoice | None = None
    voice_preset: str | None = None
    response_format: str = "mp3"
    speed: Annotated[float, msgspec.Meta(ge=0.25, le=4.0)] = 1.0
    stream_format: str = "audio"
    instructions: str | None = None
    """Passed to the model; those that take no style instructions (Bark, as tts-1) ignore it."""
    priority: Priority | None = None

    @property
    def text(self) -> str:
        return self.input if self.input is not None else (self.prompt or "")

    @property
    def voice_name(self) -> str | None:
        """The voice asked for, or None for the model's default voice."""
        if isinstance(self.voice, CustomVoice):
            return self.voice.id
        return self.voice if self.voice is not None else self.voice_preset

    def problems(self) -> tuple[str, str] | None:
        """The first thing wrong with this request as ``(param, message)``, or None."""
        field = "input" if self.input is not None else "prompt"
        if self.input is None and self.prompt is None:
            return "input", "Missing required field `input`: the text to speak."
        if self.input is not None and self.prompt is not None and self.input != self.prompt:
            return "prompt", "Send the text in `input` or in `prompt` (its older name), not both."
        if not self.text.strip():
            return field, f"`{field}` is empty; send the text to speak."
        if len(self.text) > MAX_INPUT_CHARS:
            return field, (
                f"`{field}` is {len(self.text)} characters long; the maximum is "
                f"{MAX_INPUT_CHARS}. Split the text over several requests."
            )
        if self.response_format not in SPEECH_FORMATS:
            return "response_format", (
                f"`response_format` must be one of {', '.join(SPEECH_FORMATS)}."
            )
        if self.stream_format not in STREAM_FORMATS:
            return "stream_format", f"`stream_format` must be one of {', '.join(STREAM_FORMATS)}."
        if self.voice_name is not None and not self.voice_name.strip():
            return "voice", "`voice` is empty; GET /v1/audio/voices lists the voices."
        return None


class SpeechAudioDelta(msgspec.Struct, kw_only=True, tag_field="type", tag="speech.audio.delta"):
    audio: str
    """A base64 piece of the audio in the request's response_format."""


class SpeechUsage(msgspec.Struct, kw_only=True):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class SpeechAudioDone(msgspec.Struct, kw_only=True, tag_field="type", tag="speech.audio.done"):
    usage: SpeechUsage


class Voice(msgspec.Struct, kw_only=True):
    id: str
    """The name to send as ``voice`` (a speaker preset of the model)."""
    language: str | None
    """ISO 639-1 code where the preset's name tells it."""
    openai_names: list[str]
    """OpenAI voice names (and configured aliases) that speak with this preset."""


class VoiceList(msgspec.Struct, kw_only=True, tag_field="object", tag="list"):
    data: list[Voice]
    model: str
