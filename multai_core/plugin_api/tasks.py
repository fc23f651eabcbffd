"""What a pack is asked to do: one :class:`Task` per request, routed to the pack that registered
the model's backend."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

TaskKind = Literal[
    "chat", "completion", "embedding", "transcription", "translation", "speech", "image", "vision"
]

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


class Task(msgspec.Struct, kw_only=True):
    """One unit of inference as a pack sees it. ``payload`` is the decoded request of that
    kind: the protocol Struct for JSON endpoints (ChatCompletionRequest for "chat" and "vision",
    CompletionRequest, EmbeddingRequest, the speech and image requests), or an
    :class:`AudioTranscriptionTask` for "transcription" and "translation". ``options`` carries
    what serving prepared beside it (e.g. the decoded images of a vision request)."""

    id: str
    kind: TaskKind
    model: str
    payload: Any
    options: dict[str, Any] = msgspec.field(default_factory=dict)
