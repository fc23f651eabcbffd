"""POST /v1/messages and /v1/messages/count_tokens: an Anthropic request runs as the chat
completion it means (messages_request), and the chat result comes back as a Message."""

from __future__ import annotations

from typing import Any

import msgspec

from multai_core.engine.scheduler import Job
from multai_core.plugin_api.errors import InferenceFailed
from multai_core.plugin_api.results import TextDelta, Usage
from multai_core.protocol import anthropic as a
from multai_core.serving import chat
from multai_core.serving.jobs import collect
from multai_core.serving.messages_request import chat_request
from multai_core.serving.services import Services
from multai_core.serving.text import ChoiceAccum, fold

_STOP_REASONS: dict[str, a.StopReason] = {"length": "max_tokens", "tool_calls": "tool_use"}


async def start(services: Services, req: a.MessagesRequest, request_id: str) -> Job:
    return await chat.start(services, chat_request(req), request_id)


def stop_reason(
    finish_reason: str | None, called_tools: bool, stop_sequence: str | None = None
) -> a.StopReason:
    """A "stop" the engine says one of the request's stop strings made is stop_sequence;
    any other "stop" is the end of the model's turn."""
    if called_tools:
        return "tool_use"
    if finish_reason in (None, "stop") and stop_sequence is not None:
        return "stop_sequence"
    return _STOP_REASONS.get(finish_reason or "stop", "end_turn")


def matched_stop(items: list[object]) -> str | None:
    """The stop string that ended the first choice, if one did."""
    for item in items:
        if isinstance(item, TextDelta) and item.index == 0 and item.stop_sequence is not None:
            return item.stop_sequence
    return None


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's arguments as the JSON object Anthropic's tool_use.input is."""
    try:
        value = msgspec.json.decode(arguments or "{}")
    except msgspec.DecodeError:
        value = None
    if not isinstance(value, dict):
        raise InferenceFailed("The model wrote tool arguments that are not a JSON object.")
    return value


def usage(found: Usage) -> a.Usage:
    return a.Usage(
        input_tokens=found.prompt_tokens,
        output_tokens=found.completion_tokens,
        cache_read_input_tokens=found.cached_tokens,
    )


def _content(choice: ChoiceAccum) -> list[a.TextBlock | a.ToolUseBlock]:
    text = "".join(choice.text)
    blocks: list[a.TextBlock | a.ToolUseBlock] = [a.TextBlock(text=text)] if text else []
    for _, call in sorted(choice.tool_calls.items()):
        arguments = tool_input("".join(call.arguments))
        blocks.append(a.ToolUseBlock(id=call.id, name=call.name, input=arguments))
    return blocks


async def complete(job: Job, req: a.MessagesRequest, message_id: str) -> a.Message:
    items = await collect(job)
    choices, found = fold(items)
    choice = choices[0] if choices else ChoiceAccum(0)
    reason = stop_reason(choice.finish_reason, bool(choice.tool_calls), matched_stop(items))
    return a.Message(
        id=message_id,
        model=req.model,
        content=_content(choice),
        stop_reason=reason,
        stop_sequence=matched_stop(items) if reason == "stop_sequence" else None,
        usage=usage(found),
    )


async def count_tokens(services: Services, req: a.CountTokensRequest, request_id: str) -> Job:
    """The prompt as the model's own template and tokenizer make it: a chat task that may
    write no token (max_tokens 0), whose usage counts the prompt."""
    prompt = chat_request(req)
    prompt.max_tokens = 0  # below the wire's minimum on purpose: ChatTask allows 0
    return await chat.start(services, prompt, request_id)


async def counted(job: Job) -> a.TokenCount:
    _, found = fold(await collect(job))
    return a.TokenCount(input_tokens=found.prompt_tokens)
