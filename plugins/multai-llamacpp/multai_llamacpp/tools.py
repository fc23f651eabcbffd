"""Tool calling: the tool list in the prompt (Hermes style where the template has no tool
support), grammars that force a call, and parsers that turn output text into tool calls."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from multai_core.plugin_api import ToolCallDelta, ToolSpec

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"

HERMES_TOOL_PROMPT = (
    "You are a function calling AI model. You are provided with function signatures within "
    "<tools></tools> XML tags. You may call one or more functions to assist with the user "
    "query. Don't make assumptions about what values to plug into functions. Here are the "
    "available tools: <tools>\n{tools}\n</tools>\nFor each function call return a json object "
    "with function name and arguments within <tool_call></tool_call> XML tags as follows:\n"
    '<tool_call>\n{{"name": <function-name>, "arguments": <args-dict>}}\n</tool_call>'
)


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def tool_dicts(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    """The tools as OpenAI-style plain dicts (what chat templates expect)."""
    out = []
    for tool in tools:
        fn: dict[str, Any] = {"name": tool.name}
        if tool.description is not None:
            fn["description"] = tool.description
        fn["parameters"] = tool.parameters or {"type": "object", "properties": {}}
        out.append({"type": "function", "function": fn})
    return out


def hermes_system_block(tools: list[ToolSpec]) -> str:
    lines = "\n".join(json.dumps(t, ensure_ascii=False) for t in tool_dicts(tools))
    return HERMES_TOOL_PROMPT.format(tools=lines)


def render_call(name: str, arguments: str) -> str:
    """An earlier assistant tool call, written back in the Hermes syntax."""
    try:
        args: Any = json.loads(arguments)
    except ValueError:
        args = arguments
    body = json.dumps({"name": name, "arguments": args}, ensure_ascii=False)
    return f"{TOOL_CALL_OPEN}\n{body}\n{TOOL_CALL_CLOSE}"


def forced_call_schema(tools: list[ToolSpec]) -> dict[str, Any]:
    """``{"name": <one of the tools>, "arguments": <that tool's parameters>}``."""
    alternatives = []
    for tool in tools:
        params = tool.parameters or {"type": "object"}
        alternatives.append(
            {
                "type": "object",
                "properties": {"name": {"const": tool.name}, "arguments": params},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    if len(alternatives) == 1:
        return alternatives[0]
    return {"anyOf": alternatives}


_HEAD_RE = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*', re.S)
_TAIL_RE = re.compile(r"\}\s*$")


class ForcedCallParser:
    """Streams a grammar-forced ``{"name": ..., "arguments": ...}`` as one tool call: the id
    and name once the name is complete, then the argument text as it comes (holding back what
    may be the outer object's closing brace)."""

    def __init__(self) -> None:
        self._buffer = ""
        self._held = ""
        self._started = False
        self._emitted = False

    @property
    def calls(self) -> int:
        return 1 if self._started else 0

    def feed(self, text: str) -> list[ToolCallDelta]:
        if self._started:
            return self._arguments(text)
        self._buffer += text
        match = _HEAD_RE.match(self._buffer)
        if match is None:
            return []
        name = json.loads(f'"{match.group(1)}"')
        rest = self._buffer[match.end() :]
        self._buffer = ""
        self._started = True
        return [ToolCallDelta(index=0, id=new_call_id(), name=name), *self._arguments(rest)]

    def _arguments(self, text: str) -> list[ToolCallDelta]:
        combined = self._held + text
        if not self._emitted:
            combined = combined.lstrip()
        match = _TAIL_RE.search(combined)
        cut = match.start() if match else len(combined)
        self._held = combined[cut:]
        emit = combined[:cut]
        if not emit:
            return []
        self._emitted = True
        return [ToolCallDelta(index=0, arguments=emit)]

    def finish(self, complete: bool) -> list[ToolCallDelta]:
        """``complete``: the grammar's object ended (drop its closing brace); else the output
        was cut short and whatever arrived is passed on."""
        if not self._started:
            return []
        held, self._held = self._held, ""
        if complete or not held:
            return []
        return [ToolCallDelta(index=0, arguments=held)]


def _parse_call(text: str, names: set[str]) -> tuple[str, str] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    name = data.get("name")
    if not isinstance(name, str) or (names and name not in names):
        return None
    args = data.get("arguments", data.get("parameters", {}))
    if isinstance(args, str):
        return name, args
    return name, json.dumps(args, ensure_ascii=False)


Item = str | ToolCallDelta


class AutoToolParser:
    """For tool_choice "auto": passes text through and turns ``<tool_call>{...}</tool_call>``
    blocks (Hermes, Qwen) or an answer that is one bare JSON call (Llama 3.1 style) into tool
    calls. What does not parse as a call stays text."""

    def __init__(self, tool_names: set[str]) -> None:
        self._names = tool_names
        self._buffer = ""
        self._state = "start"  # start | text | call | whole_json
        self._calls = 0

    @property
    def calls(self) -> int:
        return self._calls

    def _call_items(self, name: str, arguments: str) -> list[Item]:
        index = self._calls
        self._calls += 1
        return [
            ToolCallDelta(index=index, id=new_call_id(), name=name),
            ToolCallDelta(index=index, arguments=arguments),
        ]

    def _text(self, text: str) -> list[Item]:
        if not text or (self._calls and not text.strip()):
            return []
        return [text]

    def feed(self, text: str) -> list[Item]:
        self._buffer += text
        out: list[Item] = []
        while True:
            if self._state == "start":
                stripped = self._buffer.lstrip()
                if not stripped:
                    return out
                self._state = "whole_json" if stripped.startswith("{") else "text"
            if self._state == "whole_json":
                return out
            if self._state == "text":
                idx = self._buffer.find(TOOL_CALL_OPEN)
                if idx >= 0:
                    out += self._text(self._buffer[:idx])
                    self._buffer = self._buffer[idx + len(TOOL_CALL_OPEN) :]
                    self._state = "call"
                    continue
                hold = _partial_suffix(self._buffer, TOOL_CALL_OPEN)
                cut = len(self._buffer) - hold
                out += self._text(self._buffer[:cut])
                self._buffer = self._buffer[cut:]
                return out
            # state "call"
            idx = self._buffer.find(TOOL_CALL_CLOSE)
            if idx < 0:
                return out
            body = self._buffer[:idx]
            self._buffer = self._buffer[idx + len(TOOL_CALL_CLOSE) :]
            self._state = "text"
            parsed = _parse_call(body.strip(), self._names)
            if parsed is None:
                out += self._text(TOOL_CALL_OPEN + body + TOOL_CALL_CLOSE)
            else:
                out += self._call_items(*parsed)

    def finish(self) -> list[Item]:
        buffer, self._buffer = self._buffer, ""
        if self._state in ("call", "whole_json"):
            parsed = _parse_call(buffer.strip(), self._names)
            if parsed is not None:
                return self._call_items(*parsed)
            prefix = TOOL_CALL_OPEN if self._state == "call" else ""
            return self._text(prefix + buffer)
        return self._text(buffer)


def _partial_suffix(text: str, marker: str) -> int:
    for n in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:n]):
            return n
    return 0
