"""Everything a model pack imports: the hooks, the types it sees, the tasks it is asked to run,
the results it returns, the errors it may raise and the helpers packs share.

A pack imports this package and nothing else of ``multai_core``; README.md's "Writing a plugin"
shows the whole contract on one screen. The core routes each hook call to the one pack that
registered the model's backend, so a hook never asks "is this mine?"."""

from multai_core.plugin_api import offline
from multai_core.plugin_api.errors import (
    AuthenticationFailed,
    InferenceFailed,
    InsufficientMemory,
    InvalidRequest,
    MultaiError,
    PermissionDenied,
    RequestTooLarge,
    ServiceUnavailable,
)
from multai_core.plugin_api.hookspecs import hookimpl
from multai_core.plugin_api.principal import Principal
from multai_core.plugin_api.results import (
    EmbeddingResult,
    ImageResult,
    InferResult,
    RawImage,
    SpeechAudio,
    SpeechChunk,
    SpeechDone,
    SpeechStart,
    TextChunk,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
    TranscribedSegment,
    TranscribedWord,
    TranscriptionChunk,
    TranscriptionInfo,
    Usage,
    VoiceCatalog,
    VoiceInfo,
)
from multai_core.plugin_api.tasks import AudioTranscriptionTask, Task, TaskKind
from multai_core.plugin_api.types import (
    Backend,
    DeviceSnapshot,
    EngineStats,
    GpuDevice,
    MemoryEstimate,
    ModelSpec,
    Placement,
    ReportsEngineStats,
)

__all__ = [
    "AudioTranscriptionTask",
    "AuthenticationFailed",
    "Backend",
    "DeviceSnapshot",
    "EmbeddingResult",
    "EngineStats",
    "GpuDevice",
    "ImageResult",
    "InferResult",
    "InferenceFailed",
    "InsufficientMemory",
    "InvalidRequest",
    "MemoryEstimate",
    "ModelSpec",
    "MultaiError",
    "PermissionDenied",
    "Placement",
    "Principal",
    "RawImage",
    "ReportsEngineStats",
    "RequestTooLarge",
    "ServiceUnavailable",
    "SpeechAudio",
    "SpeechChunk",
    "SpeechDone",
    "SpeechStart",
    "Task",
    "TaskKind",
    "TextChunk",
    "TextDelta",
    "TokenLogprob",
    "ToolCallDelta",
    "TopLogprob",
    "TranscribedSegment",
    "TranscribedWord",
    "TranscriptionChunk",
    "TranscriptionInfo",
    "Usage",
    "VoiceCatalog",
    "VoiceInfo",
    "hookimpl",
    "offline",
]
