"""A Responses request as a chat completion request: its input items (after the stored
conversation of ``previous_response_id``), instructions, tools, tool_choice and text format,
so that chat's checks, image preparation and ChatTask serve both doors."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from multai_core.plugin_api.errors import InvalidRequest
from multai_core.protocol import chat as wire
from multai_core.protocol import responses as api

_ITEM_TYPES: dict[str, type[api.InputItem]] = {
    "message": api.MessageItem,
    "function_call": api.FunctionCallItem,
    "function_call_output": api.FunctionCallOutputItem,
}
_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def check_supported(req: api.ResponseRequest) -> None:
    """OpenAI's fields that MultAI cannot honour are refused by name, never ignored."""
    for name in api.UNSUPPORTED:
        if getattr(req, name) not in (None, []):
            raise InvalidRequest(
                f"'{name}' is not supported by this server; leave it out.",
                param=name,
                code="unsupported_parameter",
            )
    if req.truncation == "auto":
        raise InvalidRequest(
            "truncation 'auto' is not supported; a prompt beyond the context is a 400.",
            param="truncation",
            code="unsupported_parameter",
        )
    if req.background and req.store is False:
        raise InvalidRequest("background responses need store=true.", param="background")
    if req.background and req.stream:
        raise InvalidRequest(
            "background responses are polled; stream=true is not supported with them.",
            param="stream",
            code="unsupported_parameter",
        )


def parse_items(
    raw: str | list[dict[str, Any]] | None, param: str = "input"
) -> list[api.InputItem]:
    """The input as typed items, each with an id; a string is one user message."""
    if raw is None:
        return []
    if isinstance(raw, str):
        text = api.TextInput(text=raw)
        return [api.MessageItem(role="user", content=[text], id=new_id("msg"), status="completed")]
    items: list[api.InputItem] = []
    for i, entry in enumerate(raw):
        kind = entry.get("type", "message")
        cls = _ITEM_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise InvalidRequest(
                f"{param}[{i}]: item type {kind!r} is not supported; send message, "
                "function_call or function_call_output items.",
                param=f"{param}[{i}].type",
            )
        try:
            item = msgspec.convert(entry, cls)
        except msgspec.ValidationError as exc:
            raise InvalidRequest(f"{param}[{i}]: {exc}", param=f"{param}[{i}]") from None
        if isinstance(item, api.MessageItem) and isinstance(item.content, str):
            part: api.InputPart = (
                api.OutputText(text=item.content)
                if item.role == "assistant"
                else api.TextInput(text=item.content)
            )
            item.content = [part]
        item.id = item.id or new_id(_PREFIX[item.type])
        item.status = item.status or "completed"
        items.append(item)
    return items


def item_dicts(items: list[api.InputItem]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(item) for item in items]


def _part(part: api.InputPart, where: str) -> wire.ContentPart:
    if isinstance(part, api.TextInput | api.OutputText):
        return wire.TextPart(text=part.text)
    if isinstance(part, api.Refusal):
        return wire.RefusalPart(refusal=part.refusal)
    if part.image_url is None:
        raise InvalidRequest(
            "input_image needs image_url (a data URL); file_id is not supported.",
            param=f"{where}.image_url",
            code="unsupported_parameter",
        )
    detail = part.detail if part.detail in ("auto", "low", "high") else None
    return wire.ImagePart(image_url=wire.ImageURL(url=part.image_url, detail=detail))


def _messages(instructions: str | None, items: list[api.InputItem]) -> list[wire.ChatMessage]:
    messages: list[wire.ChatMessage] = []
    if instructions:
        messages.append(wire.ChatMessage(role="developer", content=instructions))
    for i, item in enumerate(items):
        if isinstance(item, api.MessageItem):
            parts = item.content if isinstance(item.content, list) else []
            content = [_part(p, f"input[{i}].content[{j}]") for j, p in enumerate(parts)]
            messages.append(wire.ChatMessage(role=item.role, content=content))
        elif isinstance(item, api.FunctionCallItem):
            call = wire.ToolCall(
                id=item.call_id,
                function=wire.FunctionCall(name=item.name, arguments=item.arguments),
            )
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant":
                last.tool_calls = [*(last.tool_calls or []), call]
            else:
                messages.append(wire.ChatMessage(role="assistant", tool_calls=[call]))
        else:
            output = item.output
            text = output if isinstance(output, str) else "".join(p.text for p in output)
            messages.append(wire.ChatMessage(role="tool", content=text, tool_call_id=item.call_id))
    return messages


def _tools(raw: list[dict[str, Any]] | None) -> list[wire.Tool] | None:
    if raw is None:
        return None
    tools: list[wire.Tool] = []
    for i, entry in enumerate(raw):
        kind = entry.get("type")
        if kind != "function":
            raise InvalidRequest(
                f"tools[{i}]: the tool type {kind!r} is not supported; this server runs "
                "function tools only (built-in tools such as web_search or file_search "
                "are OpenAI's).",
                param=f"tools[{i}].type",
                code="unsupported_parameter",
            )
        try:
            tool = msgspec.convert(entry, api.FunctionTool)
        except msgspec.ValidationError as exc:
            raise InvalidRequest(f"tools[{i}]: {exc}", param=f"tools[{i}]") from None
        tools.append(
            wire.Tool(
                function=wire.FunctionDefinition(
                    name=tool.name,
                    description=tool.description,
                    parameters=tool.parameters,
                    strict=tool.strict,
                )
            )
        )
    return tools


def _tool_choice(choice: api.ToolChoice | None) -> wire.ToolChoice | None:
    if choice is None or isinstance(choice, str):
        return choice
    if choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return wire.NamedToolChoice(function=wire.NamedFunction(name=choice["name"]))
    raise InvalidRequest(
        'tool_choice must be none, auto, required or {"type": "function", "name": ...}; '
        "built-in and allowed-tools choices are not supported.",
        param="tool_choice",
        code="unsupported_parameter",
    )


def _format(text: api.TextConfig | None) -> wire.ResponseFormat | None:
    fmt = text.format if text is not None else None
    if fmt is None:
        return None
    kind = fmt.get("type")
    if kind == "text":
        return wire.TextFormat()
    if kind == "json_object":
        return wire.JsonObjectFormat()
    if kind == "json_schema":
        try:
            spec = msgspec.convert(fmt, wire.JsonSchemaFormat)
        except msgspec.ValidationError as exc:
            raise InvalidRequest(f"text.format: {exc}", param="text.format") from None
        return wire.JsonSchemaResponseFormat(json_schema=spec)
    raise InvalidRequest(
        f"text.format type {kind!r} is not supported; use text, json_object or json_schema.",
        param="text.format.type",
    )


def to_chat(
    req: api.ResponseRequest, conversation: list[api.InputItem]
) -> wire.ChatCompletionRequest:
    """``conversation``: the stored items before this request's, then its own."""
    messages = _messages(req.instructions, conversation)
    if not messages:
        raise InvalidRequest("input is required.", param="input")
    return wire.ChatCompletionRequest(
        model=req.model,
        messages=messages,
        temperature=req.temperature,
        top_p=req.top_p,
        max_completion_tokens=req.max_output_tokens,
        response_format=_format(req.text),
        tools=_tools(req.tools),
        tool_choice=_tool_choice(req.tool_choice),
        parallel_tool_calls=req.parallel_tool_calls,
        user=req.user,
        service_tier=req.service_tier,
        priority=req.priority,
        top_k=req.top_k,
        min_p=req.min_p,
        repeat_penalty=req.repeat_penalty,
        n_threads=req.n_threads,
        n_gpu_layers=req.n_gpu_layers,
    )
