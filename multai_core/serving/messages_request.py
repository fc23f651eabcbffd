"""An Anthropic Messages request as the chat completion request it means, so that it runs
through chat's own checks, image preparation and ChatTask (one engine path for both doors)."""

from __future__ import annotations

import msgspec

from multai_core.plugin_api.errors import InvalidRequest
from multai_core.protocol import anthropic as a
from multai_core.protocol import chat as wire

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_encoder = msgspec.json.Encoder()


def _image(block: a.ImageBlock, param: str) -> wire.ImagePart:
    source = block.source
    if isinstance(source, a.UrlSource):
        return wire.ImagePart(image_url=wire.ImageURL(url=source.url))
    if source.media_type not in IMAGE_TYPES:
        raise InvalidRequest(
            f"{param}.source.media_type: {source.media_type!r} is not one of "
            f"{', '.join(IMAGE_TYPES)}.",
            param=f"{param}.source.media_type",
        )
    url = f"data:{source.media_type};base64,{source.data}"
    return wire.ImagePart(image_url=wire.ImageURL(url=url))


def _parts(
    blocks: list[a.TextBlock | a.ImageBlock], param: str
) -> list[wire.TextPart | wire.ImagePart]:
    return [
        wire.TextPart(text=b.text) if isinstance(b, a.TextBlock) else _image(b, f"{param}[{j}]")
        for j, b in enumerate(blocks)
    ]


def _tool_result(block: a.ToolResultBlock, param: str) -> wire.ChatMessage:
    content = block.content
    parts: str | list[wire.ContentPart]
    if content is None:
        parts = ""
    elif isinstance(content, str):
        parts = content
    else:
        parts = list(_parts(content, f"{param}.content"))
    return wire.ChatMessage(role="tool", content=parts, tool_call_id=block.tool_use_id)


def _user(message: a.InputMessage, i: int) -> list[wire.ChatMessage]:
    """Tool results first, as tool messages (they answer the previous turn's calls), then
    the rest of the turn as one user message."""
    if isinstance(message.content, str):
        return [wire.ChatMessage(role="user", content=message.content)]
    results: list[wire.ChatMessage] = []
    parts: list[wire.ContentPart] = []
    for j, block in enumerate(message.content):
        param = f"messages[{i}].content[{j}]"
        if isinstance(block, a.ToolResultBlock):
            results.append(_tool_result(block, param))
        elif isinstance(block, a.TextBlock):
            parts.append(wire.TextPart(text=block.text))
        elif isinstance(block, a.ImageBlock):
            parts.append(_image(block, param))
        else:
            raise InvalidRequest(
                f"{param}: a tool_use block belongs in an assistant message.", param=param
            )
    return results + ([wire.ChatMessage(role="user", content=parts)] if parts else [])


def _assistant(message: a.InputMessage, i: int) -> wire.ChatMessage:
    if isinstance(message.content, str):
        return wire.ChatMessage(role="assistant", content=message.content)
    text: list[wire.ContentPart] = []
    calls: list[wire.ToolCall] = []
    for j, block in enumerate(message.content):
        param = f"messages[{i}].content[{j}]"
        if isinstance(block, a.TextBlock):
            text.append(wire.TextPart(text=block.text))
        elif isinstance(block, a.ToolUseBlock):
            arguments = _encoder.encode(block.input).decode()
            calls.append(
                wire.ToolCall(
                    id=block.id, function=wire.FunctionCall(name=block.name, arguments=arguments)
                )
            )
        else:
            raise InvalidRequest(
                f"{param}: an assistant message holds text and tool_use blocks only.",
                param=param,
            )
    return wire.ChatMessage(role="assistant", content=text or None, tool_calls=calls or None)


def _system(system: str | list[a.TextBlock] | None) -> list[wire.ChatMessage]:
    if system is None:
        return []
    text = system if isinstance(system, str) else "\n".join(b.text for b in system)
    return [wire.ChatMessage(role="system", content=text)] if text else []


def _tool_choice(req: a.CountTokensRequest) -> tuple[wire.ToolChoice | None, bool | None]:
    """Anthropic's tool_choice as chat's, and whether parallel tool calls stay allowed."""
    choice = req.tool_choice
    if choice is None:
        return None, None
    parallel = None if isinstance(choice, a.ToolChoiceNone) else choice.disable_parallel_tool_use
    allowed = None if parallel is None else not parallel
    if isinstance(choice, a.ToolChoiceTool):
        return wire.NamedToolChoice(function=wire.NamedFunction(name=choice.name)), allowed
    if isinstance(choice, a.ToolChoiceAny):
        return "required", allowed
    if isinstance(choice, a.ToolChoiceNone):
        return "none", allowed
    return "auto", allowed


def _prefill(messages: list[wire.ChatMessage], last: int) -> bool:
    """Whether the request ends with an assistant turn that the answer continues (Anthropic's
    prefill); an empty one is left out, as it starts nothing."""
    final = messages[-1] if messages else None
    if final is None or final.role != "assistant":
        return False
    param = f"messages[{last}]"
    if final.tool_calls:
        raise InvalidRequest(
            f"{param}: a final assistant message is the start of the answer; it cannot hold "
            "tool_use blocks (answer them with a user message of tool_result blocks).",
            param=param,
        )
    content = final.content
    text = (
        content
        if isinstance(content, str)
        else "".join(p.text for p in content or () if isinstance(p, wire.TextPart))
    )
    if not text:
        messages.pop()
        if not messages:
            raise InvalidRequest(
                "messages: the only message is an empty assistant turn, so there is nothing "
                "to answer; start with a user message.",
                param="messages",
            )
        return False
    if text != text.rstrip():
        raise InvalidRequest(
            "messages: final assistant content cannot end with trailing whitespace.",
            param=param,
        )
    return True


def chat_request(req: a.CountTokensRequest) -> wire.ChatCompletionRequest:
    """The chat completion request that ``req`` means. A MessagesRequest brings its sampling,
    limit and stop sequences; a CountTokensRequest only what its prompt is made of. A final
    assistant message is the start of the answer (continue_final_message)."""
    messages = _system(req.system)
    for i, message in enumerate(req.messages):
        if message.role == "user":
            messages += _user(message, i)
        else:
            messages.append(_assistant(message, i))
    prefilled = _prefill(messages, len(req.messages) - 1)
    choice, parallel = _tool_choice(req)
    tools = [
        wire.Tool(
            function=wire.FunctionDefinition(
                name=t.name, description=t.description, parameters=t.input_schema
            )
        )
        for t in req.tools or ()
    ]
    chat = wire.ChatCompletionRequest(
        model=req.model,
        messages=messages,
        tools=tools or None,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        priority=req.priority,
        continue_final_message=prefilled or None,
    )
    if isinstance(req, a.MessagesRequest):
        chat.max_tokens = req.max_tokens
        chat.stop = req.stop_sequences or None
        chat.temperature = req.temperature
        chat.top_p = req.top_p
        chat.top_k = req.top_k
        chat.user = req.metadata.user_id if req.metadata else None
    return chat
