"""Anthropic's Messages API: POST /v1/messages and /v1/messages/count_tokens, with errors in
Anthropic's shape on these paths (the anthropic-version header is accepted and not needed)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.response import Stream

from multai_core.protocol.anthropic import (
    CountTokensRequest,
    Message,
    MessagesRequest,
    TokenCount,
)
from multai_core.server.anthropic_errors import error_responses, handle_anthropic
from multai_core.server.request_id import request_id_of
from multai_core.server.responses import event_stream, until_done
from multai_core.serving import messages, messages_stream
from multai_core.serving.services import Services

AnyRequest = Request[Any, Any, Any]
_STREAMED = ResponseSpec(
    data_container=Message,
    description=(
        "Message as JSON; with stream=true, text/event-stream events (`event: <type>` and "
        "`data: <json>`): message_start, ping, content_block_start, content_block_delta, "
        "content_block_stop, message_delta, message_stop, or error"
    ),
    generate_examples=False,
)


class MessagesController(Controller):
    path = "/v1/messages"
    tags = ["anthropic"]
    exception_handlers = {Exception: handle_anthropic}

    @post(
        "/",
        status_code=200,
        summary="Create a message (Anthropic Messages API)",
        responses={200: _STREAMED, **error_responses()},
    )
    async def create_message(
        self, data: JSONBody[MessagesRequest], request: AnyRequest, state: State
    ) -> Message | Stream:
        services: Services = state.services
        request_id = request_id_of(request.scope)
        message_id = f"msg_{request_id}"
        job = await messages.start(services, data, request_id)
        if data.stream:
            return await event_stream(
                services.scheduler,
                job,
                lambda first: messages_stream.stream(job, data, message_id, first),
                request=request,
            )
        return await until_done(
            request, services.scheduler, job, messages.complete(job, data, message_id)
        )

    @post(
        "/count_tokens",
        status_code=200,
        summary="Count the tokens of a message's prompt (Anthropic Messages API)",
        responses=error_responses(),
    )
    async def count_tokens(
        self, data: JSONBody[CountTokensRequest], request: AnyRequest, state: State
    ) -> TokenCount:
        services: Services = state.services
        job = await messages.count_tokens(services, data, request_id_of(request.scope))
        return await until_done(request, services.scheduler, job, messages.counted(job))
