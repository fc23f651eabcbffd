"""What a speech plugin (multai-bark) yields for a "speech" task, in this order:

one :class:`SpeechStart` once the voice is known and the text is split (errors before it are
plain HTTP errors), then :class:`SpeechAudio` pieces of the encoded file in the request's
``response_format`` (concatenated they are the whole file), then one :class:`SpeechDone`.
For a :class:`multai_core.protocol.speech.VoicesQuery` payload it returns a
:class:`VoiceCatalog`.
"""

from __future__ import annotations

import msgspec


class SpeechStart(msgspec.Struct, kw_only=True):
    segments: int
    """How many generations the text was split into."""
    sample_rate: int
    voice: str
    """The speaker preset that speaks (an OpenAI name resolved to its preset)."""


class SpeechAudio(msgspec.Struct, kw_only=True):
    data: bytes


class SpeechDone(msgspec.Struct, kw_only=True):
    segments: int
    audio_seconds: float
    input_tokens: int
    output_tokens: int


class VoiceInfo(msgspec.Struct, kw_only=True):
    id: str
    language: str | None
    openai_names: list[str]


class VoiceCatalog(msgspec.Struct, kw_only=True):
    voices: list[VoiceInfo]
