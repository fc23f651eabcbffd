"""Chat completions, legacy completions and embeddings."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.params import JSONBody
from litestar.response import Stream

from multai_core.protocol.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from multai_core.protocol.completions import Completion, CompletionRequest
from multai_core.protocol.embeddings import EmbeddingList, EmbeddingRequest
from multai_core.server.openapi import streamable
from multai_core.server.request_id import request_id_of
from multai_core.server.responses import event_stream, until_done
from multai_core.serving import chat, completions, embeddings
from multai_core.serving.services import Services

AnyRequest = Request[Any, Any, Any]


class TextController(Controller):
    path = "/v1"
    tags = ["text"]

    @post(
        "/chat/completions",
        status_code=200,
        summary="Create a chat completion",
        responses={200: streamable(ChatCompletion, ChatCompletionChunk)},
    )
    async def chat_completions(
        self, data: JSONBody[ChatCompletionRequest], request: AnyRequest, state: State
    ) -> ChatCompletion | Stream:
        services: Services = state.services
        request_id = request_id_of(request.scope)
        response_id = f"chatcmpl-{request_id}"
        job = await chat.start(services, data, request_id)
        if data.stream:
            return await event_stream(
                services.scheduler,
                job,
                lambda first: chat.stream(job, data, response_id, first),
                request=request,
            )
        return await until_done(
            request, services.scheduler, job, chat.complete(job, data, response_id)
        )

    @post(
        "/completions",
        status_code=200,
        summary="Create a text completion (legacy)",
        responses={200: streamable(Completion, Completion)},
    )
    async def completions(
        self, data: JSONBody[CompletionRequest], request: AnyRequest, state: State
    ) -> Completion | Stream:
        services: Services = state.services
        request_id = request_id_of(request.scope)
        response_id = f"cmpl-{request_id}"
        job = completions.start(services, data, request_id)
        if data.stream:
            return await event_stream(
                services.scheduler,
                job,
                lambda first: completions.stream(job, data, response_id, first),
                request=request,
            )
        return await until_done(
            request, services.scheduler, job, completions.complete(job, data, response_id)
        )

    @post("/embeddings", status_code=200, summary="Create embeddings")
    async def embeddings(
        self, data: JSONBody[EmbeddingRequest], request: AnyRequest, state: State
    ) -> EmbeddingList:
        services: Services = state.services
        job = embeddings.start(services, data, request_id_of(request.scope))
        return await until_done(request, services.scheduler, job, embeddings.complete(job, data))
