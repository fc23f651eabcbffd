"""Chat messages -> the plain dicts a chat template renders."""

from __future__ import annotations

import json
from typing import Any

from multai_core.plugin_api import Message, ToolSpec
from multai_llamacpp.tools import hermes_system_block, render_call


def _arguments_value(arguments: str) -> Any:
    """HF chat templates expect a tool call's arguments as an object (they ``tojson`` it)."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def template_messages(
    messages: list[Message], *, native_tools: bool, tools: list[ToolSpec] | None
) -> list[dict[str, Any]]:
    """``tools`` given (and the template not tool-aware): their Hermes description goes into
    the system message. Tool results become user turns wrapped in <tool_response> unless the
    template renders tool messages itself."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.role
        content = message.text()
        if role == "assistant" and message.tool_calls:
            if native_tools:
                out.append(
                    {
                        "role": "assistant",
                        "content": content,
                        "tool_calls": [
                            {
                                "id": call.id,
                                "type": "function",
                                "function": {
                                    "name": call.name,
                                    "arguments": _arguments_value(call.arguments),
                                },
                            }
                            for call in message.tool_calls
                        ],
                    }
                )
                continue
            rendered = "\n".join(render_call(c.name, c.arguments) for c in message.tool_calls)
            content = f"{content}\n{rendered}" if content else rendered
        if role == "tool":
            if native_tools:
                entry: dict[str, Any] = {"role": "tool", "content": content}
                if message.tool_call_id:
                    entry["tool_call_id"] = message.tool_call_id
                if message.name:
                    entry["name"] = message.name
                out.append(entry)
                continue
            wrapped = f"<tool_response>\n{content}\n</tool_response>"
            if out and out[-1]["role"] == "user" and out[-1].get("_tool_turn"):
                out[-1]["content"] += "\n" + wrapped
            else:
                out.append({"role": "user", "content": wrapped, "_tool_turn": True})
            continue
        out.append({"role": role, "content": content})

    for entry in out:
        entry.pop("_tool_turn", None)
    if tools and not native_tools:
        block = hermes_system_block(tools)
        if out and out[0]["role"] == "system":
            out[0]["content"] = f"{out[0]['content']}\n\n{block}" if out[0]["content"] else block
        else:
            out.insert(0, {"role": "system", "content": block})
    return out
