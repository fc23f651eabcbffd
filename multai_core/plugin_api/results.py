"""What a pack returns or yields for each task kind. Serving turns these into the wire format.

- chat, completion, vision: an iterator of :class:`TextDelta` (one or more per generated token,
  ``index`` naming the choice), then exactly one :class:`Usage`. A choice's last delta carries
  its ``finish_reason`` and, when one of the task's ``stop`` strings ended it, that string in
  ``stop_sequence`` (None when the model ended its turn, or a template's own stop did).
- embedding: one :class:`EmbeddingResult`.
- transcription, translation: an iterator that yields one :class:`TranscriptionInfo` once the
  audio is decoded and its language known, then one :class:`TranscribedSegment` per segment, in
  order, as each is decoded.
- speech: an iterator of one :class:`SpeechStart` once the voice is known and the text is split
  (errors before it are plain HTTP errors), then :class:`SpeechAudio` pieces of the encoded file
  in the task's ``response_format`` (concatenated they are the whole file), then one
  :class:`SpeechDone`. A voices task returns one :class:`VoiceCatalog`.
- image, image edit: one :class:`ImageResult` of raw pixels; serving encodes them (png, jpeg or
  webp) off the event loop, so a pack never deals with output formats.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import msgspec

# -- text -----------------------------------------------------------------------------

FinishReason = str  # "stop" | "length" | "tool_calls" | "content_filter"


class TopLogprob(msgspec.Struct, kw_only=True):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(msgspec.Struct, kw_only=True):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = msgspec.field(default_factory=list)


class ToolCallDelta(msgspec.Struct, kw_only=True):
    """A piece of one tool call. The first piece of a call carries id and name; later pieces
    append to ``arguments``."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class TextDelta(msgspec.Struct, kw_only=True):
    index: int = 0
    text: str = ""
    tool_calls: list[ToolCallDelta] | None = None
    logprobs: list[TokenLogprob] | None = None
    finish_reason: FinishReason | None = None
    stop_sequence: str | None = None
    """On the delta with finish_reason "stop": which of the task's stop strings ended the
    choice (its text is not in the output); None when none did."""


class Usage(msgspec.Struct, kw_only=True):
    prompt_tokens: int
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens taken from a cache instead of evaluated (OpenAI's
    ``prompt_tokens_details.cached_tokens``)."""


# -- embedding ------------------------------------------------------------------------


class EmbeddingResult(msgspec.Struct, kw_only=True):
    vectors: list[list[float]]
    prompt_tokens: int


# -- transcription --------------------------------------------------------------------


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


# -- speech ---------------------------------------------------------------------------


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


# -- image ----------------------------------------------------------------------------

PixelMode = Literal["RGB", "RGBA", "L"]


class RawImage(msgspec.Struct, kw_only=True, frozen=True):
    """Uncompressed pixels, row-major, 8 bits per channel (Pillow's ``Image.tobytes()``)."""

    width: int
    height: int
    mode: PixelMode
    pixels: bytes


class ImageResult(msgspec.Struct, kw_only=True):
    """The images of one generation or edit request. ``seeds`` holds the seed each image was
    made from (reproduce one image by sending its seed)."""

    images: list[RawImage]
    seeds: list[int] = msgspec.field(default_factory=list)


# -- what multai_infer returns ------------------------------------------------------------

TextChunk = TextDelta | Usage
TranscriptionChunk = TranscriptionInfo | TranscribedSegment
SpeechChunk = SpeechStart | SpeechAudio | SpeechDone
InferResult = (
    EmbeddingResult
    | ImageResult
    | VoiceCatalog
    | Iterator[TextChunk]
    | Iterator[TranscriptionChunk]
    | Iterator[SpeechChunk]
)
