"""POST /v1/audio/speech: request -> SpeechTask job -> the audio file, streamed as the model
speaks it (or OpenAI's speech SSE events). GET /v1/audio/voices -> VoiceList, from the
backend's ``voices`` without loading the model, else from a VoicesTask job.

The response starts once the first piece of audio exists, so a bad voice or a failure in the
first sentence is still a plain HTTP error. A failure after that cannot change the status: the
connection is cut before the last chunk, which every HTTP client reports as an incomplete body
(SSE streams get OpenAI's error event instead).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import structlog

from multai_core.engine.scheduler import Job
from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import (
    InferenceFailed,
    InvalidRequest,
    ModelNotFound,
    MultaiError,
)
from multai_core.plugin_api.results import (
    SpeechAudio,
    SpeechDone,
    SpeechStart,
    VoiceCatalog,
    VoiceInfo,
)
from multai_core.plugin_api.task_audio import SpeechFormat, SpeechTask, VoicesTask
from multai_core.protocol.common import effective_priority
from multai_core.protocol.speech import (
    CONTENT_TYPES,
    SpeechAudioDelta,
    SpeechAudioDone,
    SpeechRequest,
    SpeechUsage,
    Voice,
    VoiceList,
)
from multai_core.serving import sse
from multai_core.serving.jobs import collect, submit
from multai_core.serving.services import Services

log = structlog.get_logger(__name__)
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"


@dataclass
class Opening:
    """What arrived before the response started: the plan and the first audio."""

    start: SpeechStart
    items: list[object] = field(default_factory=list)
    ended: bool = False


def speech_task(req: SpeechRequest) -> SpeechTask:
    """The engine task of a request that passed :meth:`SpeechRequest.problems`."""
    return SpeechTask(
        text=req.text,
        voice=req.voice_name,
        # problems() refused any other format
        response_format=cast(SpeechFormat, req.response_format),
        speed=req.speed,
        instructions=req.instructions,
    )


def start(services: Services, req: SpeechRequest, request_id: str) -> Job:
    problem = req.problems()
    if problem is not None:
        param, message = problem
        raise InvalidRequest(message, param=param)
    return submit(
        services,
        request_id=request_id,
        kind="speech",
        payload=speech_task(req),
        model=req.model,
        priority=req.priority,
    )


async def open_speech(job: Job) -> Opening:
    """Wait for the plan and the first non-empty piece of audio (or the end)."""
    try:
        first = await job.next()
    except StopAsyncIteration:
        raise InferenceFailed(f"Model '{job.spec.name}' produced no speech.") from None
    if not isinstance(first, SpeechStart):
        raise InferenceFailed(f"Model '{job.spec.name}' answered a speech request wrongly.")
    opening = Opening(start=first)
    while True:
        try:
            item = await job.next()
        except StopAsyncIteration:
            opening.ended = True
            return opening
        opening.items.append(item)
        if isinstance(item, SpeechAudio) and item.data:
            return opening


async def _items(job: Job, opening: Opening) -> AsyncIterator[object]:
    for item in opening.items:
        yield item
    if opening.ended:
        return
    while True:
        try:
            yield await job.next()
        except StopAsyncIteration:
            return


async def audio_body(job: Job, opening: Opening) -> AsyncIterator[bytes]:
    """The encoded file's bytes as they are made. A failure is logged and re-raised, which
    aborts the chunked response before its last chunk."""
    try:
        async for item in _items(job, opening):
            if isinstance(item, SpeechAudio) and item.data:
                yield item.data
    except Exception as exc:
        log.error("speech_stream_failed", request_id=job.task.id, error=type(exc).__name__)
        raise


async def sse_body(job: Job, opening: Opening) -> AsyncIterator[bytes]:
    """OpenAI's speech events: speech.audio.delta (base64 audio) then speech.audio.done."""
    try:
        async for item in _items(job, opening):
            if isinstance(item, SpeechAudio) and item.data:
                delta = SpeechAudioDelta(audio=base64.b64encode(item.data).decode("ascii"))
                yield sse.event(delta)
            elif isinstance(item, SpeechDone):
                usage = SpeechUsage(
                    input_tokens=item.input_tokens,
                    output_tokens=item.output_tokens,
                    total_tokens=item.input_tokens + item.output_tokens,
                )
                yield sse.event(SpeechAudioDone(usage=usage))
    except MultaiError as exc:
        yield sse.event(exc.body())
    except Exception as exc:
        log.error("speech_stream_failed", request_id=job.task.id, error=type(exc).__name__)
        yield sse.event(InferenceFailed("The stream failed; the server log has details.").body())


def headers(req: SpeechRequest, opening: Opening) -> dict[str, str]:
    content_type = (
        SSE_CONTENT_TYPE if req.stream_format == "sse" else CONTENT_TYPES[req.response_format]
    )
    result = {
        # Litestar lets the handler's media type win over Stream(media_type=...)
        "content-type": content_type,
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
        "x-multai-speech-segments": str(opening.start.segments),
        "x-multai-sample-rate": str(opening.start.sample_rate),
    }
    if opening.start.voice.isascii() and opening.start.voice.isprintable():
        result["x-multai-voice"] = opening.start.voice
    return result


def voices_model(services: Services, model: str | None) -> str:
    """The model whose voices to list: the one named, else the first speech model."""
    if model:
        services.registry.resolve(model, kind="speech")
        return model
    for spec in services.registry.models.values():
        if "speech" in services.registry.tasks_of(spec):
            return spec.name
    raise ModelNotFound(
        "This server has no text-to-speech model; install a speech plugin (multai-bark) and "
        "configure a model.",
        param="model",
    )


def _voice_list(voices: list[VoiceInfo], model: str) -> VoiceList:
    return VoiceList(
        data=[
            Voice(id=v.id, language=v.language, openai_names=list(v.openai_names)) for v in voices
        ],
        model=model,
    )


async def describe_voices(services: Services, model: str) -> VoiceList | None:
    """The voices from the backend's ``voices``, read off the event loop without loading the
    model; None for a backend that must load the model to tell (then :func:`start_voices`)."""
    spec = services.registry.resolve(model, kind="speech")
    describe = services.registry.backends[spec.backend].voices
    if describe is None:
        return None
    # the same check a queued listing passes (serving.jobs.submit)
    principal.current().check(
        model=spec.name, aliases=spec.aliases, priority=effective_priority(None, None)
    )
    try:
        voices = await asyncio.to_thread(describe, spec)
    except MultaiError:
        raise
    except Exception as exc:
        log.error("voices_failed", model=spec.name, error=type(exc).__name__)
        raise InferenceFailed(
            f"Model '{spec.name}' could not list its voices ({type(exc).__name__}); the "
            "server log has details."
        ) from exc
    return _voice_list(voices, model)


def start_voices(services: Services, model: str, request_id: str) -> Job:
    return submit(
        services,
        request_id=request_id,
        kind="speech",
        payload=VoicesTask(),
        model=model,
    )


async def voices(job: Job, model: str) -> VoiceList:
    catalogs = [r for r in await collect(job) if isinstance(r, VoiceCatalog)]
    if len(catalogs) != 1:
        raise InferenceFailed(f"Model '{model}' did not list its voices.")
    return _voice_list(catalogs[0].voices, model)
