"""POST /v1/audio/transcriptions and /v1/audio/translations: form fields and the uploaded file
-> job -> json / text / srt / verbose_json / vtt, or SSE text events with ``stream=true``.

The pack decodes the audio while it runs; what it will decode is bounded before it is queued:
the duration the container's header declares (read in the decode pool) is reserved from the
server's budget of audio seconds in flight (a 429 while it is taken) until the job is dropped.
A file whose header says nothing reserves ``max_audio_seconds``, the most the decoder accepts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import msgspec
import structlog

from multai_core.engine.scheduler import Job
from multai_core.media.audio_probe import audio_seconds
from multai_core.media.multipart import UploadedFile
from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import InferenceFailed, InvalidRequest
from multai_core.plugin_api.results import TranscribedSegment, TranscriptionInfo
from multai_core.plugin_api.task_audio import TranscriptionTask
from multai_core.protocol.audio import (
    LIST_FIELDS,
    DurationUsage,
    TranscriptionForm,
    TranscriptionJson,
    TranscriptionSegment,
    TranscriptionVerboseJson,
    TranscriptionWord,
    TranscriptTextDelta,
    TranscriptTextDone,
    TranslationForm,
    language_name,
)
from multai_core.protocol.common import effective_priority
from multai_core.serving import sse
from multai_core.serving.jobs import collect, submit
from multai_core.serving.services import Services

log = structlog.get_logger(__name__)

AudioKind = Literal["transcription", "translation"]
AudioForm = TranscriptionForm | TranslationForm
F = TypeVar("F", TranscriptionForm, TranslationForm)
STREAMABLE_FORMATS = frozenset({"json", "text"})
_PARAM = re.compile(r"at `\$\.([A-Za-z_]+)|required field `([A-Za-z_]+)`")


@dataclass(frozen=True)
class PlainText:
    """A text, srt or vtt answer."""

    text: str
    media_type: str


def parse_form(fields: Mapping[str, list[str]], form_type: type[F]) -> F:
    """The text fields of the multipart body as a form Struct. ``name[]`` and ``name`` are one
    field; empty values count as absent; fields the endpoint does not know are ignored."""
    known = set(form_type.__struct_fields__)
    raw: dict[str, Any] = {}
    unknown: list[str] = []
    for key, values in fields.items():
        name = key.removesuffix("[]")
        present = [v for v in values if v != ""]
        if name not in known:
            unknown.append(name)
        elif name in LIST_FIELDS:
            raw.setdefault(name, []).extend(present)
        elif present:
            raw[name] = present[-1]
    if unknown:
        log.debug("unknown_form_fields", fields=sorted(unknown))
    try:
        return msgspec.convert(raw, form_type, strict=False)
    except msgspec.ValidationError as exc:
        match = _PARAM.search(str(exc))
        param = (match.group(1) or match.group(2)) if match else None
        raise InvalidRequest(f"Invalid form field: {exc}", param=param) from None


async def start(
    services: Services,
    form: AudioForm,
    upload: UploadedFile | None,
    kind: AudioKind,
    request_id: str,
) -> Job:
    if upload is None:
        raise InvalidRequest(
            "No audio file: send it as the multipart form field `file`.", param="file"
        )
    if not upload.data:
        raise InvalidRequest("The uploaded file is empty.", param="file")
    if form.stream and form.response_format not in STREAMABLE_FORMATS:
        raise InvalidRequest(
            f"stream=true sends text events; it works with response_format json or text, "
            f"not {form.response_format}.",
            param="stream",
        )
    words = False
    if isinstance(form, TranscriptionForm):
        if "logprobs" in form.include:
            raise InvalidRequest(
                "include=logprobs is not available from Whisper models.", param="include"
            )
        words = form.response_format == "verbose_json" and "word" in form.timestamp_granularities
    # no one makes this server read a file for a model it may not use (submit checks again)
    spec = services.registry.resolve(form.model, kind=kind)
    principal.current().check(
        model=spec.name,
        aliases=spec.aliases,
        priority=effective_priority(form.priority, form.service_tier),
    )
    max_seconds = services.config.server.max_audio_seconds
    declared = await services.decoding.run(audio_seconds, upload.data)
    if declared is not None and declared > max_seconds + 1:  # the header says so
        raise InvalidRequest(
            f"The audio is {declared:.0f} s long, longer than this server accepts "
            f"({max_seconds:g} s, [server] max_audio_seconds).",
            param="file",
        )
    # a header that does not say means the longest audio the decoder will accept
    seconds = max_seconds if not declared or declared <= 0 else min(declared, max_seconds)
    lease = services.decoding.audio_seconds.reserve(seconds, param="file")
    try:
        job = _submit(services, form, upload, kind, request_id, words)
        lease.attach(job, seconds)  # the job carries the audio; dropped with it
    finally:
        lease.close()
    return job


def _submit(
    services: Services,
    form: AudioForm,
    upload: UploadedFile,
    kind: AudioKind,
    request_id: str,
    words: bool,
) -> Job:
    payload = TranscriptionTask(
        audio=upload.data,
        filename=upload.filename,
        content_type=upload.content_type,
        task="transcribe" if kind == "transcription" else "translate",
        language=form.language,
        prompt=form.prompt,
        temperature=form.temperature,
        word_timestamps=words,
        max_audio_seconds=services.config.server.max_audio_seconds,
    )
    return submit(
        services,
        request_id=request_id,
        kind=kind,
        payload=payload,
        model=form.model,
        priority=form.priority,
        service_tier=form.service_tier,
    )


def _fold(items: list[object], model: str) -> tuple[TranscriptionInfo, list[TranscribedSegment]]:
    infos = [i for i in items if isinstance(i, TranscriptionInfo)]
    if len(infos) != 1:
        raise InferenceFailed(f"Model '{model}' returned no transcription.")
    return infos[0], [s for s in items if isinstance(s, TranscribedSegment)]


def full_text(segments: list[TranscribedSegment]) -> str:
    return "".join(s.text for s in segments).strip()


async def complete(
    job: Job, form: AudioForm, kind: AudioKind
) -> TranscriptionJson | TranscriptionVerboseJson | PlainText:
    info, segments = _fold(await collect(job), form.model)
    text = full_text(segments)
    fmt = form.response_format
    if fmt == "text":
        return PlainText(text + "\n", "text/plain")
    if fmt == "srt":
        return PlainText(to_srt(segments), "text/plain")
    if fmt == "vtt":
        return PlainText(to_vtt(segments), "text/vtt")
    usage = DurationUsage.of(info.duration) if kind == "transcription" else None
    if fmt == "json":
        return TranscriptionJson(text=text, usage=usage)
    return verbose(info, segments, text, form, kind, usage)


def verbose(
    info: TranscriptionInfo,
    segments: list[TranscribedSegment],
    text: str,
    form: AudioForm,
    kind: AudioKind,
    usage: DurationUsage | None,
) -> TranscriptionVerboseJson:
    granularities = getattr(form, "timestamp_granularities", None) or ["segment"]
    with_words = kind == "transcription" and "word" in granularities
    with_segments = kind == "translation" or "segment" in granularities
    return TranscriptionVerboseJson(
        task="transcribe" if kind == "transcription" else "translate",
        language="english" if kind == "translation" else language_name(info.language),
        duration=info.duration,
        text=text,
        segments=[_wire_segment(s) for s in segments] if with_segments else None,
        words=[
            TranscriptionWord(word=w.word.strip(), start=w.start, end=w.end)
            for s in segments
            for w in s.words or ()
        ]
        if with_words
        else None,
        usage=usage,
    )


def _wire_segment(s: TranscribedSegment) -> TranscriptionSegment:
    return TranscriptionSegment(
        id=s.id,
        seek=s.seek,
        start=s.start,
        end=s.end,
        text=s.text,
        tokens=s.tokens,
        temperature=s.temperature,
        avg_logprob=s.avg_logprob,
        compression_ratio=s.compression_ratio,
        no_speech_prob=s.no_speech_prob,
    )


# --- subtitles ---------------------------------------------------------------------------------


def _clock(seconds: float, decimal: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def _cue_text(text: str) -> str:
    # A blank line ends a cue and "-->" starts a timing line: neither may appear in cue text.
    return " ".join(text.split()).replace("-->", "->")


def _cues(segments: list[TranscribedSegment]) -> list[tuple[float, float, str]]:
    cues = [(s.start, max(s.start, s.end), _cue_text(s.text)) for s in segments]
    return [c for c in cues if c[2]]


def to_srt(segments: list[TranscribedSegment]) -> str:
    return "".join(
        f"{n}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{text}\n\n"
        for n, (start, end, text) in enumerate(_cues(segments), start=1)
    )


def to_vtt(segments: list[TranscribedSegment]) -> str:
    body = "".join(
        f"{_clock(start, '.')} --> {_clock(end, '.')}\n{text}\n\n"
        for start, end, text in _cues(segments)
    )
    return "WEBVTT\n\n" + body


# --- streaming ---------------------------------------------------------------------------------


class DeltaText:
    """Segment texts as deltas whose concatenation is exactly the final (stripped) text:
    leading space is dropped from the first, and trailing space held back until more follows."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._held = ""

    def add(self, text: str) -> str:
        if not self.sent and not self._held:
            text = text.lstrip()
        body = text.rstrip()
        if not body:
            self._held += text if self.sent else ""
            return ""
        delta = self._held + body
        self._held = text[len(body) :]
        self.sent.append(delta)
        return delta

    def text(self) -> str:
        return "".join(self.sent)


async def stream(job: Job, first: object) -> AsyncIterator[bytes]:
    """SSE for a job whose first item has arrived: transcript.text.delta per segment, then
    transcript.text.done (errors after the first event become an error event)."""

    async def events() -> AsyncIterator[bytes]:
        deltas = DeltaText()
        item: object = first
        while True:
            if isinstance(item, TranscribedSegment):
                delta = deltas.add(item.text)
                if delta:
                    yield sse.event(TranscriptTextDelta(delta=delta))
            try:
                item = await job.next()
            except StopAsyncIteration:
                break
        yield sse.event(TranscriptTextDone(text=deltas.text()))

    async for event in sse.with_error_event(events()):
        yield event
