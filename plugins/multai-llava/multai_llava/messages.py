"""OpenAI chat messages -> the conversation format of transformers' chat templates
(``{"role", "content": [{"type": "text", "text"}, {"type": "image"}]}``)."""

from __future__ import annotations

from typing import Any

from multai_core.plugin_api import InvalidRequest
from multai_core.protocol.chat import (
    AudioPart,
    ChatMessage,
    ImagePart,
    RefusalPart,
    TextPart,
)

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def _parts(message: ChatMessage, index: int) -> list[dict[str, Any]]:
    content = message.content
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        param = f"messages[{index}].content[{j}]"
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, RefusalPart):
            parts.append({"type": "text", "text": part.refusal})
        elif isinstance(part, ImagePart):
            if message.role != "user":
                raise InvalidRequest("Images are accepted in user messages only.", param=param)
            parts.append({"type": "image"})
        elif isinstance(part, AudioPart):
            raise InvalidRequest("This model cannot hear audio; send text and images.", param=param)
    return parts


def conversation(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """The messages for the chat template; refuses what a vision chat model cannot take."""
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role = _ROLES.get(message.role)
        if role is None or message.tool_calls:
            raise InvalidRequest(
                "This model does not support tools: tool messages and tool calls cannot be "
                "sent to it.",
                param=f"messages[{i}]",
            )
        out.append({"role": role, "content": _parts(message, i)})
    return out


def count_images(messages: list[ChatMessage]) -> int:
    return sum(
        1
        for m in messages
        if isinstance(m.content, list)
        for p in m.content
        if isinstance(p, ImagePart)
    )
