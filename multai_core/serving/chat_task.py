"""A chat completion request, checked where the check is about the wire, as the engine's
ChatTask: every pack reads the same typed messages, sampling, tools and response format."""

from __future__ import annotations

from multai_core.plugin_api.errors import InvalidRequest
from multai_core.plugin_api.results import RawImage
from multai_core.plugin_api.task_text import (
    ChatTask,
    ImagePart,
    Message,
    ResponseFormat,
    Role,
    TextPart,
    ToolCall,
    ToolSpec,
)
from multai_core.protocol import chat as wire
from multai_core.serving.sampling import logit_bias, sampling_params

_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}


def check(req: wire.ChatCompletionRequest) -> None:
    """The refusals that do not depend on the model (the model's own come from its pack)."""
    choice = req.tool_choice
    if not req.tools and choice is not None and choice != "none":
        if isinstance(choice, wire.NamedToolChoice):
            raise InvalidRequest(
                "tool_choice names a function but no tools were given.", param="tool_choice"
            )
        raise InvalidRequest("tool_choice needs a non-empty tools list", param="tool_choice")
    if isinstance(choice, wire.NamedToolChoice) and not any(
        t.function.name == choice.function.name for t in req.tools or ()
    ):
        raise InvalidRequest(
            f"tool_choice names {choice.function.name!r}, which is not in tools",
            param="tool_choice",
        )
    final = req.messages[-1] if req.messages else None
    if req.continue_final_message and (
        final is None or final.role != "assistant" or final.tool_calls
    ):
        raise InvalidRequest(
            "continue_final_message needs the last message to be the assistant's text (the "
            "start of the answer), without tool calls.",
            param="continue_final_message",
        )
    if req.top_logprobs and not req.logprobs:
        raise InvalidRequest("top_logprobs requires logprobs to be true.", param="top_logprobs")
    logit_bias(req.logit_bias)
    for i, message in enumerate(req.messages):
        for j, part in enumerate(message.content if isinstance(message.content, list) else ()):
            if isinstance(part, wire.AudioPart):
                raise InvalidRequest(
                    "Audio input is not supported in chat messages; send text (and images to "
                    "a model that sees them).",
                    param=f"messages[{i}].content[{j}]",
                    code="unsupported_content",
                )


def _tool_choice(req: wire.ChatCompletionRequest) -> str:
    choice = req.tool_choice
    if not req.tools:
        return "none"
    if isinstance(choice, wire.NamedToolChoice):
        return choice.function.name
    return choice or "auto"


def _response_format(fmt: wire.ResponseFormat | None) -> ResponseFormat:
    if isinstance(fmt, wire.JsonObjectFormat):
        return ResponseFormat(type="json_object")
    if isinstance(fmt, wire.JsonSchemaResponseFormat):
        spec = fmt.json_schema
        return ResponseFormat(
            type="json_schema", schema=spec.schema, name=spec.name, strict=bool(spec.strict)
        )
    return ResponseFormat()


def _content(message: wire.ChatMessage, images: list[RawImage]) -> list[TextPart | ImagePart]:
    """The message's parts in order; each image part takes the next prepared image."""
    content = message.content
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(text=content)]
    parts: list[TextPart | ImagePart] = []
    for part in content:
        if isinstance(part, wire.TextPart):
            parts.append(TextPart(text=part.text))
        elif isinstance(part, wire.RefusalPart):
            parts.append(TextPart(text=part.refusal))
        elif isinstance(part, wire.ImagePart):
            parts.append(ImagePart(image=images.pop(0)))
    return parts


def _message(message: wire.ChatMessage, images: list[RawImage]) -> Message:
    return Message(
        role=_ROLES[message.role],
        content=_content(message, images),
        name=message.name,
        tool_calls=[
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
            for c in message.tool_calls or ()
        ],
        tool_call_id=message.tool_call_id,
    )


def chat_task(req: wire.ChatCompletionRequest, images: list[RawImage]) -> ChatTask:
    """``images``: one per image part, in message order (prepared by chat_images)."""
    check(req)
    wanted = sum(
        1
        for m in req.messages
        if isinstance(m.content, list)
        for p in m.content
        if isinstance(p, wire.ImagePart)
    )
    if wanted != len(images):
        raise ValueError(f"{wanted} image parts but {len(images)} prepared images")
    pending = list(images)
    return ChatTask(
        messages=[_message(m, pending) for m in req.messages],
        sampling=sampling_params(req),
        max_tokens=req.token_limit(),
        stop=req.stop_list(),
        n=req.n or 1,
        logprobs=bool(req.logprobs),
        top_logprobs=req.top_logprobs or 0,
        tools=[
            ToolSpec(
                name=t.function.name,
                description=t.function.description,
                parameters=t.function.parameters,
                strict=bool(t.function.strict),
            )
            for t in req.tools or ()
        ],
        tool_choice=_tool_choice(req),
        parallel_tool_calls=req.parallel_tool_calls is not False,
        response_format=_response_format(req.response_format),
        n_threads=req.n_threads,
        continue_final_message=bool(req.continue_final_message),
    )
