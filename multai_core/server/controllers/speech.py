"""Text to speech: POST /v1/audio/speech, GET /v1/audio/voices (and a clear 405 for OpenAI's
POST /v1/audio/voices, which creates custom voices)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter
from litestar.response import Stream

from multai_core.engine.scheduler import Job, Scheduler
from multai_core.plugin_api.errors import MultaiError
from multai_core.protocol.speech import SpeechRequest, VoiceList
from multai_core.server.errors import error_response
from multai_core.server.request_id import request_id_of
from multai_core.server.responses import until_done
from multai_core.serving import speech
from multai_core.serving.services import Services

AnyRequest = Request[Any, Any, Any]


async def _cancel_on_exit(
    scheduler: Scheduler, job: Job, chunks: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    """Whatever ends the body (done, failure, client gone) ends the job too."""
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        scheduler.cancel(job)


class SpeechController(Controller):
    path = "/v1/audio"
    tags = ["audio"]

    @post("/speech", status_code=200, summary="Create speech from text")
    async def create_speech(
        self, data: JSONBody[SpeechRequest], request: AnyRequest, state: State
    ) -> Stream:
        services: Services = state.services
        scheduler = services.scheduler
        job = speech.start(services, data, request_id_of(request.scope))
        try:
            opening = await until_done(request, scheduler, job, speech.open_speech(job))
        except BaseException:
            scheduler.cancel(job)
            raise
        body = (
            speech.sse_body(job, opening)
            if data.stream_format == "sse"
            else speech.audio_body(job, opening)
        )
        return Stream(_cancel_on_exit(scheduler, job, body), headers=speech.headers(data, opening))

    @get("/voices", summary="List the voices of a speech model")
    async def list_voices(
        self,
        request: AnyRequest,
        state: State,
        model: Annotated[
            str | None, QueryParameter(description="A speech model; default: the first one")
        ] = None,
    ) -> VoiceList:
        services: Services = state.services
        name = speech.voices_model(services, model)
        described = await speech.describe_voices(services, name)
        if described is not None:
            return described
        job = speech.start_voices(services, name, request_id_of(request.scope))
        return await until_done(request, services.scheduler, job, speech.voices(job, name))

    @post("/voices", status_code=405, summary="Not supported: creating custom voices")
    async def create_voice(self) -> Response[dict[str, object]]:
        error = MultaiError(
            "Creating custom voices is not supported. Use one of the model's voices: "
            "GET /v1/audio/voices lists them.",
            code="method_not_allowed",
        )
        error.status_code = 405
        error.type = "invalid_request_error"
        response = error_response(error)
        response.headers["allow"] = "GET"
        return response
