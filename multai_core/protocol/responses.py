"""POST /v1/responses (OpenAI's Responses API): request, response object, input items, stream
events. Input items arrive as JSON objects and are checked one by one by serving (OpenAI's
easy message form has no ``type``, so they cannot be one tagged union)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from multai_core.protocol.chat import MAX_TOKENS, Temperature, TopP
from multai_core.protocol.common import (
    MinP,
    NGpuLayers,
    NThreads,
    Priority,
    RepeatPenalty,
    ServiceTier,
    TopK,
)

# -- request ------------------------------------------------------------------------------


class ImageInput(msgspec.Struct, tag="input_image", tag_field="type", kw_only=True):
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["auto", "low", "high", "original"] | None = None


class TextInput(msgspec.Struct, tag="input_text", tag_field="type", kw_only=True):
    text: str


class OutputText(msgspec.Struct, tag="output_text", tag_field="type", kw_only=True):
    text: str
    annotations: list[Any] = msgspec.field(default_factory=list)
    logprobs: list[Any] = msgspec.field(default_factory=list)


class Refusal(msgspec.Struct, tag="refusal", tag_field="type", kw_only=True):
    refusal: str


InputPart = TextInput | ImageInput | OutputText | Refusal


class MessageItem(msgspec.Struct, kw_only=True):
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[InputPart]
    type: Literal["message"] = "message"
    id: str | None = None
    status: str | None = None


class FunctionCallItem(msgspec.Struct, kw_only=True):
    call_id: str
    name: str
    arguments: str
    type: Literal["function_call"] = "function_call"
    id: str | None = None
    status: str | None = None


class FunctionCallOutputItem(msgspec.Struct, kw_only=True):
    call_id: str
    output: str | list[TextInput]
    type: Literal["function_call_output"] = "function_call_output"
    id: str | None = None
    status: str | None = None


InputItem = MessageItem | FunctionCallItem | FunctionCallOutputItem


class FunctionTool(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: Annotated[str, msgspec.Meta(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    type: Literal["function"] = "function"
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class NamedFunction(msgspec.Struct, kw_only=True):
    name: str
    type: Literal["function"] = "function"


ToolChoice = Literal["none", "auto", "required"] | dict[str, Any]


class TextConfig(msgspec.Struct, kw_only=True, omit_defaults=True):
    format: dict[str, Any] | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class StreamOptions(msgspec.Struct, kw_only=True):
    include_obfuscation: bool | None = None


Metadata = Annotated[dict[str, str], msgspec.Meta(max_length=16)]


class ResponseRequest(msgspec.Struct, kw_only=True):
    """Unknown fields are ignored, as elsewhere; the fields of OpenAI's that MultAI cannot honour
    are named here so that serving refuses them with a 400 (see ``UNSUPPORTED``)."""

    model: Annotated[str, msgspec.Meta(min_length=1)]
    input: str | Annotated[list[dict[str, Any]], msgspec.Meta(max_length=1000)] | None = None
    instructions: str | None = None
    max_output_tokens: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOKENS)] | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    text: TextConfig | None = None
    tools: Annotated[list[dict[str, Any]], msgspec.Meta(max_length=128)] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    metadata: Metadata | None = None
    store: bool | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    background: bool | None = None
    previous_response_id: str | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    service_tier: ServiceTier | None = None
    truncation: Literal["auto", "disabled"] | None = None
    # OpenAI's, not served here (a 400 names the field when it is set)
    reasoning: Any | None = None
    include: list[Any] | None = None
    prompt: Any | None = None
    conversation: Any | None = None
    max_tool_calls: Any | None = None
    top_logprobs: Any | None = None
    context_management: Any | None = None
    # MultAI's extensions, as in chat completions
    priority: Priority | None = None
    top_k: TopK | None = None
    min_p: MinP | None = None
    repeat_penalty: RepeatPenalty | None = None
    n_threads: NThreads | None = None
    n_gpu_layers: NGpuLayers | None = None


UNSUPPORTED = (
    "reasoning",
    "include",
    "prompt",
    "conversation",
    "max_tool_calls",
    "top_logprobs",
    "context_management",
)


# -- response -----------------------------------------------------------------------------


class OutputMessage(msgspec.Struct, tag="message", tag_field="type", kw_only=True):
    id: str
    status: Literal["in_progress", "completed", "incomplete"]
    content: list[OutputText]
    role: Literal["assistant"] = "assistant"


class FunctionCall(msgspec.Struct, tag="function_call", tag_field="type", kw_only=True):
    id: str
    call_id: str
    name: str
    arguments: str
    status: Literal["in_progress", "completed", "incomplete"]


OutputItem = OutputMessage | FunctionCall


class InputTokensDetails(msgspec.Struct, kw_only=True):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(msgspec.Struct, kw_only=True):
    reasoning_tokens: int = 0


class ResponseUsage(msgspec.Struct, kw_only=True):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens_details: OutputTokensDetails


class IncompleteDetails(msgspec.Struct, kw_only=True):
    reason: Literal["max_output_tokens", "content_filter"]


class ResponseError(msgspec.Struct, kw_only=True):
    code: str
    message: str


Status = Literal["completed", "failed", "in_progress", "cancelled", "queued", "incomplete"]


class Response(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag="response", tag_field="object"
):
    id: str
    created_at: int
    status: Status
    model: str
    output: list[OutputItem]
    instructions: str | None
    metadata: dict[str, str]
    parallel_tool_calls: bool
    temperature: float | None
    top_p: float | None
    tool_choice: str | dict[str, Any]
    tools: list[dict[str, Any]]
    error: ResponseError | None
    incomplete_details: IncompleteDetails | None
    store: bool
    background: bool
    completed_at: int | None = None
    max_output_tokens: int | None = None
    previous_response_id: str | None = None
    text: dict[str, Any] = msgspec.field(default_factory=lambda: {"format": {"type": "text"}})
    truncation: str = "disabled"
    usage: ResponseUsage | None = None
    user: str | None = None


class ItemList(msgspec.Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool


class Deleted(msgspec.Struct, kw_only=True, tag="response", tag_field="object"):
    id: str
    deleted: bool = True
