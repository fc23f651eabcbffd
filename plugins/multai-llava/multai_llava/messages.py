"""Chat messages -> the conversation format of transformers' chat templates
(``{"role", "content": [{"type": "text", "text"}, {"type": "image"}]}``)."""

from __future__ import annotations

from typing import Any

from multai_core.plugin_api import ImagePart, InvalidRequest, Message, TextPart


def _parts(message: Message, index: int) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(message.content):
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            if message.role != "user":
                raise InvalidRequest(
                    "Images are accepted in user messages only.",
                    param=f"messages[{index}].content[{j}]",
                )
            parts.append({"type": "image"})
    return parts


def conversation(messages: list[Message]) -> list[dict[str, Any]]:
    """The messages for the chat template; refuses what a vision chat model cannot take."""
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if message.role == "tool" or message.tool_calls:
            raise InvalidRequest(
                "This model does not support tools: tool messages and tool calls cannot be "
                "sent to it.",
                param=f"messages[{i}]",
            )
        out.append({"role": message.role, "content": _parts(message, i)})
    return out
