"""POST /v1/messages and /v1/messages/count_tokens (Anthropic's Messages API): request,
response, stream events and errors, as Anthropic documents them and its SDK parses them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from multai_core.protocol.common import Priority, TopK

MAX_TOKENS = 2**31 - 1  # sanity bound; a model clamps to what its context leaves
Unit = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]

# -- request ------------------------------------------------------------------------------


class Base64Source(msgspec.Struct, tag="base64", tag_field="type", kw_only=True):
    media_type: str
    data: str


class UrlSource(msgspec.Struct, tag="url", tag_field="type", kw_only=True):
    url: str


class TextBlock(msgspec.Struct, tag="text", tag_field="type", kw_only=True):
    text: str


class ImageBlock(msgspec.Struct, tag="image", tag_field="type", kw_only=True):
    source: Base64Source | UrlSource


class ToolUseBlock(msgspec.Struct, tag="tool_use", tag_field="type", kw_only=True):
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(msgspec.Struct, tag="tool_result", tag_field="type", kw_only=True):
    tool_use_id: str
    content: str | list[TextBlock | ImageBlock] | None = None
    is_error: bool | None = None


InputBlock = TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock


class InputMessage(msgspec.Struct, kw_only=True):
    role: Literal["user", "assistant"]
    content: str | Annotated[list[InputBlock], msgspec.Meta(min_length=1)]


class Tool(msgspec.Struct, kw_only=True):
    """A client tool (Anthropic's server tools, such as web search, are not served here)."""

    name: Annotated[str, msgspec.Meta(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    input_schema: dict[str, Any]
    description: str | None = None
    type: Literal["custom"] | None = None


class ToolChoiceAuto(msgspec.Struct, tag="auto", tag_field="type", kw_only=True):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(msgspec.Struct, tag="any", tag_field="type", kw_only=True):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(msgspec.Struct, tag="tool", tag_field="type", kw_only=True):
    name: str
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(msgspec.Struct, tag="none", tag_field="type", kw_only=True):
    pass


ToolChoice = ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone


class Metadata(msgspec.Struct, kw_only=True):
    user_id: str | None = None


class CountTokensRequest(msgspec.Struct, kw_only=True):
    """Unknown fields are ignored, as Anthropic adds fields often and the SDK sends them."""

    model: Annotated[str, msgspec.Meta(min_length=1)]
    messages: Annotated[list[InputMessage], msgspec.Meta(min_length=1, max_length=1000)]
    system: str | list[TextBlock] | None = None
    tools: Annotated[list[Tool], msgspec.Meta(max_length=128)] | None = None
    tool_choice: ToolChoice | None = None
    priority: Priority | None = None


class MessagesRequest(CountTokensRequest, kw_only=True):
    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOKENS)]
    stop_sequences: Annotated[list[str], msgspec.Meta(max_length=16)] | None = None
    temperature: Unit | None = None
    top_p: Unit | None = None
    top_k: TopK | None = None
    stream: bool | None = None
    metadata: Metadata | None = None


# -- response -----------------------------------------------------------------------------

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use"]


class Usage(msgspec.Struct, kw_only=True):
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


class Message(msgspec.Struct, tag="message", tag_field="type", kw_only=True):
    id: str
    model: str
    content: list[TextBlock | ToolUseBlock]
    stop_reason: StopReason | None
    stop_sequence: str | None
    usage: Usage
    role: Literal["assistant"] = "assistant"


class TokenCount(msgspec.Struct, kw_only=True):
    input_tokens: int


# -- stream events ------------------------------------------------------------------------


class MessageStart(msgspec.Struct, tag="message_start", tag_field="type", kw_only=True):
    message: Message


class Ping(msgspec.Struct, tag="ping", tag_field="type", kw_only=True):
    pass


class ContentBlockStart(msgspec.Struct, tag="content_block_start", tag_field="type", kw_only=True):
    index: int
    content_block: TextBlock | ToolUseBlock


class TextDelta(msgspec.Struct, tag="text_delta", tag_field="type", kw_only=True):
    text: str


class InputJsonDelta(msgspec.Struct, tag="input_json_delta", tag_field="type", kw_only=True):
    partial_json: str


class ContentBlockDelta(msgspec.Struct, tag="content_block_delta", tag_field="type", kw_only=True):
    index: int
    delta: TextDelta | InputJsonDelta


class ContentBlockStop(msgspec.Struct, tag="content_block_stop", tag_field="type", kw_only=True):
    index: int


class StopDelta(msgspec.Struct, kw_only=True):
    stop_reason: StopReason | None
    stop_sequence: str | None


class DeltaUsage(msgspec.Struct, kw_only=True):
    output_tokens: int
    input_tokens: int | None = None


class MessageDelta(msgspec.Struct, tag="message_delta", tag_field="type", kw_only=True):
    delta: StopDelta
    usage: DeltaUsage


class MessageStop(msgspec.Struct, tag="message_stop", tag_field="type", kw_only=True):
    pass


StreamEvent = (
    MessageStart
    | Ping
    | ContentBlockStart
    | ContentBlockDelta
    | ContentBlockStop
    | MessageDelta
    | MessageStop
)

# -- errors -------------------------------------------------------------------------------

ErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "overloaded_error",
]


class ErrorDetail(msgspec.Struct, kw_only=True):
    type: ErrorType
    message: str


class ErrorResponse(msgspec.Struct, tag="error", tag_field="type", kw_only=True):
    error: ErrorDetail
