"""What a speech-to-text plugin receives and yields (task kinds "transcription", "translation").

The Task's payload is an :class:`AudioTranscriptionTask`: the uploaded file, still encoded (the
plugin decodes it, in memory), and what the request asked for. The plugin returns an iterator
that yields one :class:`TranscriptionInfo` once the audio is decoded and its language known,
then one :class:`TranscribedSegment` per segment, in order, as each is decoded. Serving folds
them into OpenAI's response formats or streams them as SSE events.
"""

from __future__ import annotations

from typing import Literal

import msgspec

AudioTaskName = Literal["transcribe", "translate"]


class AudioTranscriptionTask(msgspec.Struct, kw_only=True, frozen=True):
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
            f"AudioTranscriptionTask(task={self.task!r}, audio=<{len(self.audio)} bytes>, "
            f"language={self.language!r}, word_timestamps={self.word_timestamps})"
        )


class TranscriptionInfo(msgspec.Struct, kw_only=True, frozen=True):
    language: str
    """ISO-639-1 code of the spoken language (given or detected)."""
    duration: float
    """Seconds of audio in the upload."""
    language_probability: float = 1.0


class TranscribedWord(msgspec.Struct, kw_only=True, frozen=True):
    word: str
    start: float
    end: float
    probability: float = 1.0


class TranscribedSegment(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    seek: int
    start: float
    end: float
    text: str
    """As the model wrote it, usually with a leading space."""
    tokens: list[int] = msgspec.field(default_factory=list)
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    words: list[TranscribedWord] | None = None

    def __repr__(self) -> str:
        return f"TranscribedSegment(id={self.id}, start={self.start}, end={self.end})"
