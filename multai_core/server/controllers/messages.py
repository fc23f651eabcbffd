"""Anthropic's Messages API: POST /v1/messages and /v1/messages/count_tokens, with errors in
Anthropic's shape on these paths (the anthropic-version header is accepted and not needed)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.params import JSONBody

from multai_core.protocol.anthropic import (
    CountTokensRequest,
    Message,
    MessagesRequest,
    TokenCount,
)
from multai_core.server.anthropic_errors import error_responses, handle_anthropic
from multai_core.server.request_id import request_id_of
from multai_core.server.responses import until_done
from multai_core.serving import messages
from multai_core.serving.services import Services

AnyRequest = Request[Any, Any, Any]


class MessagesController(Controller):
    path = "/v1/messages"
    tags = ["anthropic"]
    exception_handlers = {Exception: handle_anthropic}

    @post(
        "/",
        status_code=200,
        summary="Create a message (Anthropic Messages API)",
        responses=error_responses(),
    )
    async def create_message(
        self, data: JSONBody[MessagesRequest], request: AnyRequest, state: State
    ) -> Message:
        services: Services = state.services
        request_id = request_id_of(request.scope)
        message_id = f"msg_{request_id}"
        job = await messages.start(services, data, request_id)
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
