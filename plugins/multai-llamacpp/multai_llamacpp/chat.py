"""Chat completions: messages -> prompt through the chat template, sampling, JSON and tool
grammars, n choices. Everything that can be refused is checked before the first delta."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from multai_core.plugin_api import InvalidRequest, ServiceUnavailable, TextDelta, Usage
from multai_core.protocol.chat import (
    ChatCompletionRequest,
    JsonObjectFormat,
    JsonSchemaResponseFormat,
    NamedToolChoice,
    Tool,
)
from multai_core.protocol.common import effective_priority
from multai_llamacpp.grammars import JSON_OBJECT_GRAMMAR, schema_grammar
from multai_llamacpp.handle import LlamaHandle
from multai_llamacpp.messages import template_messages
from multai_llamacpp.outputs import AutoToolOutput, ForcedCallOutput, Output, PlainOutput
from multai_llamacpp.runner import ChoiceRequest, Counter, Plan, run_choices, token_budget
from multai_llamacpp.sampling import SamplingConfig, check_grammar, parse_logit_bias
from multai_llamacpp.tools import forced_call_schema, tool_dicts


def _tool_mode(req: ChatCompletionRequest) -> tuple[str, list[Tool]]:
    """("none" | "auto" | "forced", the tools the prompt and grammar use)."""
    tools = req.tools or []
    choice = req.tool_choice
    if not tools:
        if choice is not None and choice != "none":
            raise InvalidRequest("tool_choice needs a non-empty tools list", param="tool_choice")
        return "none", []
    if choice is None or choice == "auto":
        return "auto", tools
    if choice == "none":
        return "none", []
    if choice == "required":
        return "forced", tools
    assert isinstance(choice, NamedToolChoice)
    named = [t for t in tools if t.function.name == choice.function.name]
    if not named:
        raise InvalidRequest(
            f"tool_choice names {choice.function.name!r}, which is not in tools",
            param="tool_choice",
        )
    return "forced", named


def sampling_from(
    handle: LlamaHandle,
    *,
    temperature: float | None,
    top_p: float | None,
    top_k: int | None,
    min_p: float | None,
    presence_penalty: float | None,
    frequency_penalty: float | None,
    repeat_penalty: float | None,
    seed: int | None,
    logit_bias: dict[str, float] | None,
    grammar: str | None,
) -> SamplingConfig:
    options = handle.options
    last_n = options.penalty_last_n if options.penalty_last_n >= 0 else handle.n_ctx
    return SamplingConfig(
        temperature=1.0 if temperature is None else temperature,
        top_p=1.0 if top_p is None else top_p,
        top_k=options.top_k if top_k is None else top_k,
        min_p=options.min_p if min_p is None else min_p,
        presence_penalty=presence_penalty or 0.0,
        frequency_penalty=frequency_penalty or 0.0,
        repeat_penalty=1.0 if repeat_penalty is None else repeat_penalty,
        penalty_last_n=last_n,
        seed=seed or 0,
        logit_bias=parse_logit_bias(logit_bias, handle.n_vocab),
        grammar=grammar,
    )


def plan_chat(handle: LlamaHandle, req: ChatCompletionRequest) -> tuple[Plan, str, list[Tool]]:
    mode, tools = _tool_mode(req)
    template = handle.template
    messages = template_messages(
        req.messages, native_tools=template.native_tools, tools=tools or None
    )
    prompt_text, template_stops = template.render(
        messages, tool_dicts(tools) if (tools and template.native_tools) else None
    )
    prompt = template.tokenize(handle.llama, prompt_text)
    budget = token_budget(handle, len(prompt), req.token_limit(), "messages")

    grammar: str | None = None
    if mode == "forced":
        grammar = schema_grammar(forced_call_schema(tools), param="tools")
        check_grammar(handle.llama, grammar, "tools")
    elif isinstance(req.response_format, JsonObjectFormat):
        grammar = JSON_OBJECT_GRAMMAR
    elif isinstance(req.response_format, JsonSchemaResponseFormat):
        grammar = schema_grammar(req.response_format.json_schema.schema, param="response_format")
        check_grammar(handle.llama, grammar, "response_format")

    if req.top_logprobs is not None and not req.logprobs:
        raise InvalidRequest("top_logprobs needs logprobs set to true", param="top_logprobs")
    sampling = sampling_from(
        handle,
        temperature=req.temperature,
        top_p=req.top_p,
        top_k=req.top_k,
        min_p=req.min_p,
        presence_penalty=req.presence_penalty,
        frequency_penalty=req.frequency_penalty,
        repeat_penalty=req.repeat_penalty,
        seed=req.seed,
        logit_bias=req.logit_bias,
        grammar=grammar,
    )
    plan = Plan(
        prompt=prompt,
        stops=req.stop_list() + template_stops,
        max_new_tokens=budget,
        sampling=sampling,
        top_logprobs=(req.top_logprobs or 0) if req.logprobs else None,
        n_threads=req.n_threads,
        n=req.n or 1,
        seeded=req.seed is not None,
        priority=effective_priority(req.priority, req.service_tier),
    )
    return plan, mode, tools


def _output(mode: str, tools: list[Tool], index: int) -> Output:
    if mode == "forced":
        return ForcedCallOutput(index)
    if mode == "auto":
        return AutoToolOutput(index, {t.function.name for t in tools})
    return PlainOutput(index)


def run_chat(
    handle: LlamaHandle, req: ChatCompletionRequest, cancel: threading.Event
) -> Iterator[TextDelta | Usage]:
    if handle.closed:
        raise ServiceUnavailable("the model was unloaded")
    plan, mode, tools = plan_chat(handle, req)
    counter = Counter()
    requests = [ChoiceRequest(i, plan, _output(mode, tools, i)) for i in range(plan.n)]
    yield from run_choices(handle, requests, cancel=cancel, counter=counter)
    yield Usage(
        prompt_tokens=len(plan.prompt),
        completion_tokens=counter.completion_tokens,
        cached_tokens=counter.cached_tokens,
    )
