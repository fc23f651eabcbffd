"""Folding the TextDelta stream a plugin yields into whole choices."""

from __future__ import annotations

from dataclasses import dataclass, field

from multai_core.plugin_api.results import TextDelta, TokenLogprob, Usage
from multai_core.protocol.chat import (
    AssistantMessage,
    ChoiceLogprobs,
    FunctionCall,
    ToolCall,
)
from multai_core.protocol.chat import TokenLogprob as WireTokenLogprob
from multai_core.protocol.chat import TopLogprob as WireTopLogprob
from multai_core.protocol.common import PromptTokensDetails
from multai_core.protocol.common import Usage as WireUsage


@dataclass
class _ToolCallAccum:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class ChoiceAccum:
    index: int
    text: list[str] = field(default_factory=list)
    tool_calls: dict[int, _ToolCallAccum] = field(default_factory=dict)
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str | None = None

    def add(self, delta: TextDelta) -> None:
        if delta.text:
            self.text.append(delta.text)
        for piece in delta.tool_calls or ():
            call = self.tool_calls.setdefault(piece.index, _ToolCallAccum())
            call.id = piece.id or call.id
            call.name = piece.name or call.name
            call.arguments.append(piece.arguments)
        if delta.logprobs is not None:
            self.logprobs = [*(self.logprobs or []), *delta.logprobs]
        if delta.finish_reason is not None:
            self.finish_reason = delta.finish_reason

    def message(self) -> AssistantMessage:
        calls = [
            ToolCall(id=c.id, function=FunctionCall(name=c.name, arguments="".join(c.arguments)))
            for _, c in sorted(self.tool_calls.items())
        ]
        text = "".join(self.text)
        return AssistantMessage(
            content=text if text or not calls else None,
            refusal=None,
            tool_calls=calls or None,
        )


def fold(items: list[object]) -> tuple[list[ChoiceAccum], Usage]:
    choices: dict[int, ChoiceAccum] = {}
    usage = Usage(prompt_tokens=0, completion_tokens=0)
    for item in items:
        if isinstance(item, TextDelta):
            choices.setdefault(item.index, ChoiceAccum(item.index)).add(item)
        elif isinstance(item, Usage):
            usage = item
    return [choices[i] for i in sorted(choices)], usage


def wire_usage(usage: Usage) -> WireUsage:
    return WireUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.prompt_tokens + usage.completion_tokens,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=usage.cached_tokens),
    )


def wire_logprobs(logprobs: list[TokenLogprob] | None) -> ChoiceLogprobs | None:
    if logprobs is None:
        return None
    return ChoiceLogprobs(
        content=[
            WireTokenLogprob(
                token=lp.token,
                logprob=lp.logprob,
                bytes=lp.bytes,
                top_logprobs=[
                    WireTopLogprob(token=t.token, logprob=t.logprob, bytes=t.bytes)
                    for t in lp.top_logprobs
                ],
            )
            for lp in logprobs
        ],
        refusal=None,
    )
