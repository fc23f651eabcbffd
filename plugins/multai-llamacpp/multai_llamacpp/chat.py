"""Chat completions: messages -> prompt through the chat template, sampling, JSON and tool
grammars, n choices. Everything that can be refused is checked before the first delta."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from multai_core.plugin_api import (
    ChatTask,
    InvalidRequest,
    SamplingParams,
    ServiceUnavailable,
    TextDelta,
    ToolSpec,
    Usage,
)
from multai_llamacpp.grammars import JSON_OBJECT_GRAMMAR, schema_grammar
from multai_llamacpp.handle import LlamaHandle
from multai_llamacpp.messages import template_messages
from multai_llamacpp.outputs import AutoToolOutput, ForcedCallOutput, Output, PlainOutput
from multai_llamacpp.runner import ChoiceRequest, Counter, Plan, run_choices, token_budget
from multai_llamacpp.sampling import SamplingConfig, check_grammar
from multai_llamacpp.tools import forced_call_schema, tool_dicts


def _tool_mode(chat: ChatTask) -> tuple[str, list[ToolSpec]]:
    """("none" | "auto" | "forced", the tools the prompt and grammar use). Serving checked
    that a named function is one of the tools."""
    tools, choice = chat.tools, chat.tool_choice
    if not tools or choice == "none":
        return "none", []
    if choice == "auto":
        return "auto", tools
    if choice == "required":
        return "forced", tools
    return "forced", [t for t in tools if t.name == choice]


def sampling_from(
    handle: LlamaHandle, params: SamplingParams, grammar: str | None
) -> SamplingConfig:
    options = handle.options
    return SamplingConfig(
        params=params.resolve(n_vocab=handle.n_vocab, top_k=options.top_k, min_p=options.min_p),
        penalty_last_n=options.penalty_last_n if options.penalty_last_n >= 0 else handle.n_ctx,
        grammar=grammar,
    )


def _check_text_only(chat: ChatTask) -> None:
    if chat.images():
        raise InvalidRequest(
            "this model takes text only; image content is not supported",
            param="messages",
            code="unsupported_content",
        )


def plan_chat(
    handle: LlamaHandle, chat: ChatTask, priority: int = 1
) -> tuple[Plan, str, list[ToolSpec]]:
    _check_text_only(chat)
    mode, tools = _tool_mode(chat)
    template = handle.template
    messages = template_messages(
        chat.messages, native_tools=template.native_tools, tools=tools or None
    )
    prompt_text, template_stops = template.render(
        messages,
        tool_dicts(tools) if (tools and template.native_tools) else None,
        continue_final=chat.continue_final_message,
    )
    prompt = template.tokenize(handle.llama, prompt_text)
    budget = token_budget(handle, len(prompt), chat.max_tokens, "messages")

    grammar: str | None = None
    response_format = chat.response_format
    if mode == "forced":
        grammar = schema_grammar(forced_call_schema(tools), param="tools")
        check_grammar(handle.llama, grammar, "tools")
    elif response_format.type == "json_object":
        grammar = JSON_OBJECT_GRAMMAR
    elif response_format.type == "json_schema":
        grammar = schema_grammar(response_format.schema, param="response_format")
        check_grammar(handle.llama, grammar, "response_format")

    plan = Plan(
        prompt=prompt,
        stops=list(chat.stop),
        end_of_turn=template_stops,
        max_new_tokens=budget,
        sampling=sampling_from(handle, chat.sampling, grammar),
        top_logprobs=chat.top_logprobs if chat.logprobs else None,
        n_threads=chat.n_threads,
        n=chat.n,
        priority=priority,
    )
    return plan, mode, tools


def _output(mode: str, tools: list[ToolSpec], index: int) -> Output:
    if mode == "forced":
        return ForcedCallOutput(index)
    if mode == "auto":
        return AutoToolOutput(index, {t.name for t in tools})
    return PlainOutput(index)


def run_chat(
    handle: LlamaHandle, chat: ChatTask, cancel: threading.Event, *, priority: int = 1
) -> Iterator[TextDelta | Usage]:
    if handle.closed:
        raise ServiceUnavailable("the model was unloaded")
    plan, mode, tools = plan_chat(handle, chat, priority)
    counter = Counter()
    requests = [ChoiceRequest(i, plan, _output(mode, tools, i)) for i in range(plan.n)]
    yield from run_choices(handle, requests, cancel=cancel, counter=counter)
    yield Usage(
        prompt_tokens=len(plan.prompt),
        completion_tokens=counter.completion_tokens,
        cached_tokens=counter.cached_tokens,
    )
