"""What a pack is asked to do: one :class:`Task` per request, routed to the pack that registered
the model's backend. ``payload`` is one engine task per kind, never a wire request."""

from __future__ import annotations

from typing import Literal

import msgspec

from multai_core.plugin_api.task_audio import SpeechTask, TranscriptionTask, VoicesTask
from multai_core.plugin_api.task_image import ImageEditTask, ImageGenerationTask
from multai_core.plugin_api.task_text import ChatTask, CompletionTask, EmbeddingTask

TaskKind = Literal[
    "chat", "completion", "embedding", "transcription", "translation", "speech", "image", "vision"
]

TaskPayload = (
    ChatTask
    | CompletionTask
    | EmbeddingTask
    | TranscriptionTask
    | SpeechTask
    | VoicesTask
    | ImageGenerationTask
    | ImageEditTask
)


class Task(msgspec.Struct, kw_only=True):
    """One request as a pack sees it: ``kind`` is the task kind the model was resolved for
    ("vision" is a chat with images; "translation" a TranscriptionTask that translates)."""

    id: str
    kind: TaskKind
    model: str
    payload: TaskPayload
    """The engine task: a pack matches on its type (``match task.payload: case ChatTask(): ...``)
    and raises InvalidRequest for one it does not serve."""
    priority: int = 0
    """0 is the most urgent. A pack that queues requests itself (parallel slots) serves the
    lower number first."""
