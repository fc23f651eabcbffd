"""Audio tasks: speech to text (transcription, translation), text to speech, voice listings."""

from __future__ import annotations

from typing import Literal

import msgspec

AudioTaskName = Literal["transcribe", "translate"]


class TranscriptionTask(msgspec.Struct, kw_only=True, frozen=True):
    audio: bytes
    """The uploaded file as sent (any container and codec); never written to disk."""
    filename: str = ""
    content_type: str = ""
    task: AudioTaskName = "transcribe"
    """"translate" produces English text whatever language is spoken."""
    language: str | None = None
    """ISO-639-1 code (lower case) of the spoken language; None to detect it."""
    prompt: str | None = None
    """Text that guides style and spelling (Whisper's initial_prompt)."""
    temperature: float = 0.0
    word_timestamps: bool = False
    max_audio_seconds: float = 7200.0
    """Longer audio is refused with a 400 while it is decoded (the server's max_audio_seconds)."""

    def __repr__(self) -> str:
        # The audio and the prompt are the caller's content: keep them out of logs and tracebacks.
        return (
            f"TranscriptionTask(task={self.task!r}, audio=<{len(self.audio)} bytes>, "
            f"language={self.language!r}, word_timestamps={self.word_timestamps})"
        )


OPENAI_VOICES = (
    "alloy", "ash", "ballad", "cedar", "coral", "echo", "fable",
    "marin", "nova", "onyx", "sage", "shimmer", "verse",
)  # fmt: skip
"""The voice names OpenAI's speech API takes: a TTS pack maps each to one of its own voices."""

SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


class SpeechTask(msgspec.Struct, kw_only=True, frozen=True):
    """Speak ``text``; the pack yields the encoded file in ``response_format``."""

    text: str
    voice: str | None = None
    """A voice the model has (an id from its voices listing or an OpenAI name it maps), or None
    for the model's default voice."""
    response_format: SpeechFormat = "mp3"
    speed: float = 1.0
    """0.25 to 4.0; 1.0 is the voice's own pace."""
    instructions: str | None = None
    """How to speak (tone, accent), for a model that takes style instructions; others ignore
    it, as OpenAI's tts-1 does."""

    def __repr__(self) -> str:
        # The text and instructions are the caller's content: keep them out of logs.
        return (
            f"SpeechTask(voice={self.voice!r}, response_format={self.response_format!r}, "
            f"speed={self.speed}, text=<{len(self.text)} chars>)"
        )


class VoicesTask(msgspec.Struct, kw_only=True, frozen=True):
    """List the voices of the task's model; the pack returns one VoiceCatalog. Only a backend
    without ``Backend.voices`` gets it (that field answers without loading the model)."""
