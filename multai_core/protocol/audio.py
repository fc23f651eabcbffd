"""POST /v1/audio/transcriptions and /v1/audio/translations: the form fields (the uploaded file
travels beside them) and every response format, plus the streamed events."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import msgspec

from multai_core.protocol.common import Priority, ServiceTier

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
TimestampGranularity = Literal["word", "segment"]
LanguageCode = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$",
        description="ISO-639-1 code of the spoken language, e.g. en (en-US is read as en)",
    ),
]
AudioTemperature = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Prompt = Annotated[str, msgspec.Meta(max_length=20_000)]

LIST_FIELDS = frozenset({"timestamp_granularities", "include"})
"""Form fields that may repeat (the SDKs send them as `name[]`)."""


class _AudioForm(msgspec.Struct, kw_only=True):
    model: Annotated[str, msgspec.Meta(min_length=1)]
    language: LanguageCode | None = None
    prompt: Prompt | None = None
    initial_prompt: Prompt | None = None
    """The thesis's name for ``prompt``; either is accepted."""
    response_format: ResponseFormat = "json"
    temperature: AudioTemperature = 0.0
    stream: bool = False
    """MultAI extension for Whisper models: segments as SSE text events as they are decoded."""
    priority: Priority | None = None
    service_tier: ServiceTier | None = None

    def __post_init__(self) -> None:
        if self.language is not None:
            self.language = self.language.replace("_", "-").split("-")[0].lower()
        if self.initial_prompt is not None:
            if self.prompt is not None and self.prompt != self.initial_prompt:
                raise ValueError("send `prompt` or `initial_prompt`, not both")
            self.prompt = self.initial_prompt
            self.initial_prompt = None


class TranscriptionForm(_AudioForm, kw_only=True):
    timestamp_granularities: list[TimestampGranularity] = msgspec.field(default_factory=list)
    include: list[str] = msgspec.field(default_factory=list)


class TranslationForm(_AudioForm, kw_only=True):
    """Translations always write English; ``language`` (the spoken one) is an extension."""


class DurationUsage(msgspec.Struct, kw_only=True, tag_field="type", tag="duration"):
    seconds: float

    @classmethod
    def of(cls, duration: float) -> DurationUsage:
        # OpenAI bills whole seconds, rounded up
        return cls(seconds=float(math.ceil(duration)))


class TranscriptionJson(msgspec.Struct, kw_only=True, omit_defaults=True):
    text: str
    usage: DurationUsage | None = None


class TranscriptionWord(msgspec.Struct, kw_only=True):
    word: str
    start: float
    end: float


class TranscriptionSegment(msgspec.Struct, kw_only=True):
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class TranscriptionVerboseJson(msgspec.Struct, kw_only=True, omit_defaults=True):
    task: Literal["transcribe", "translate"]
    language: str
    """The full English name, as OpenAI writes it ("english")."""
    duration: float
    text: str
    segments: list[TranscriptionSegment] | None = None
    words: list[TranscriptionWord] | None = None
    usage: DurationUsage | None = None


class TranscriptTextDelta(
    msgspec.Struct, kw_only=True, tag_field="type", tag="transcript.text.delta"
):
    delta: str


class TranscriptTextDone(
    msgspec.Struct, kw_only=True, tag_field="type", tag="transcript.text.done"
):
    text: str


# Whisper's languages: ISO-639-1 code (a few are longer) -> the name verbose_json reports.
# fmt: off
LANGUAGE_NAMES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian",
    "ko": "korean", "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish",
    "pl": "polish", "ca": "catalan", "nl": "dutch", "ar": "arabic", "sv": "swedish",
    "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish", "vi": "vietnamese",
    "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay", "cs": "czech",
    "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian",
    "la": "latin", "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak",
    "te": "telugu", "fa": "persian", "lv": "latvian", "bn": "bengali", "sr": "serbian",
    "az": "azerbaijani", "sl": "slovenian", "kn": "kannada", "et": "estonian", "mk": "macedonian",
    "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian", "ne": "nepali",
    "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer",
    "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan",
    "ka": "georgian", "be": "belarusian", "tg": "tajik", "sd": "sindhi", "gu": "gujarati",
    "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek", "fo": "faroese",
    "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk", "mt": "maltese",
    "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan", "tl": "tagalog",
    "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala",
    "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese", "yue": "cantonese",
}
# fmt: on


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.lower(), code.lower())
