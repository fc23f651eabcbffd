"""Text tasks: chat (with images for vision models), legacy completions, embeddings. Serving
converts each wire request into one of these; a pack never sees the wire format."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from multai_core.plugin_api.errors import InvalidRequest
from multai_core.plugin_api.results import RawImage

JsonSchema = dict[str, Any]
"""A JSON Schema document, as the client sent it."""


class SamplingParams(msgspec.Struct, kw_only=True, frozen=True):
    """How to pick tokens. None leaves a setting to the model's own default."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    repeat_penalty: float | None = None
    logit_bias: dict[int, float] = msgspec.field(default_factory=dict)
    """Token id to a bias added to its logit (-100 to 100). Serving checked the keys and
    values; only the model knows its vocabulary: see :meth:`check_vocabulary`."""
    seed: int | None = None

    def resolve(self, *, n_vocab: int, top_k: int, min_p: float) -> Sampling:
        """Every unset setting filled in: OpenAI's defaults (temperature 1, top_p 1, no
        penalties) and the model's own ``top_k`` and ``min_p``; the logit bias checked against
        the vocabulary (:meth:`check_vocabulary`)."""
        self.check_vocabulary(n_vocab)
        return Sampling(
            temperature=1.0 if self.temperature is None else self.temperature,
            top_p=1.0 if self.top_p is None else self.top_p,
            top_k=top_k if self.top_k is None else self.top_k,
            min_p=min_p if self.min_p is None else self.min_p,
            presence_penalty=self.presence_penalty or 0.0,
            frequency_penalty=self.frequency_penalty or 0.0,
            repeat_penalty=1.0 if self.repeat_penalty is None else self.repeat_penalty,
            logit_bias=dict(self.logit_bias),
            seed=self.seed,
        )

    def check_vocabulary(self, n_vocab: int) -> None:
        """InvalidRequest (400) when a logit_bias token id is not in ``0..n_vocab - 1``."""
        for token in self.logit_bias:
            if not 0 <= token < n_vocab:
                raise InvalidRequest(
                    f"logit_bias token {token} is outside the vocabulary (0..{n_vocab - 1})",
                    param="logit_bias",
                )


class Sampling(msgspec.Struct, kw_only=True, frozen=True):
    """SamplingParams with nothing left to a default (:meth:`SamplingParams.resolve`)."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    """0 is off."""
    min_p: float = 0.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repeat_penalty: float = 1.0
    """1.0 is off (OpenAI has no repeat penalty)."""
    logit_bias: dict[int, float] = msgspec.field(default_factory=dict)
    seed: int | None = None
    """None: a random seed per choice."""

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


class TextPart(msgspec.Struct, kw_only=True, frozen=True, tag="text"):
    text: str

    def __repr__(self) -> str:
        return f"TextPart(<{len(self.text)} chars>)"


class ImagePart(msgspec.Struct, kw_only=True, frozen=True, tag="image"):
    image: RawImage
    """Decoded and checked by serving (size, count, no remote fetch unless allowed)."""

    def __repr__(self) -> str:
        return f"ImagePart({self.image.width}x{self.image.height} {self.image.mode})"


class ToolCall(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    name: str
    arguments: str
    """JSON text, as the model wrote it."""


Role = Literal["system", "user", "assistant", "tool"]


class Message(msgspec.Struct, kw_only=True, frozen=True):
    role: Role
    """"developer" arrives as "system", a legacy "function" result as "tool"."""
    content: list[TextPart | ImagePart] = msgspec.field(default_factory=list)
    name: str | None = None
    tool_calls: list[ToolCall] = msgspec.field(default_factory=list)
    tool_call_id: str | None = None

    def text(self) -> str:
        """The text parts joined, images left out."""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    def images(self) -> list[RawImage]:
        return [p.image for p in self.content if isinstance(p, ImagePart)]

    def __repr__(self) -> str:
        return f"Message(role={self.role!r}, parts=<{len(self.content)}>)"


class ToolSpec(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    description: str | None = None
    parameters: JsonSchema | None = None
    strict: bool = False


ToolChoice = str
""""none", "auto", "required", or the name of the one function the model must call."""


class ResponseFormat(msgspec.Struct, kw_only=True, frozen=True):
    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: JsonSchema | None = None
    """For "json_schema": the schema the answer must match."""
    name: str | None = None
    strict: bool = False


class ChatTask(msgspec.Struct, kw_only=True, frozen=True):
    messages: list[Message]
    sampling: SamplingParams = SamplingParams()
    max_tokens: int | None = None
    """None: up to the context's end."""
    stop: list[str] = msgspec.field(default_factory=list)
    n: int = 1
    logprobs: bool = False
    top_logprobs: int = 0
    tools: list[ToolSpec] = msgspec.field(default_factory=list)
    tool_choice: ToolChoice = "auto"
    parallel_tool_calls: bool = True
    response_format: ResponseFormat = ResponseFormat()
    n_threads: int | None = None
    """A request's own CPU thread count (llama.cpp's extension), None for the model's."""
    continue_final_message: bool = False
    """The last message is the assistant's, and the start of the answer: the model continues
    its text (the prompt leaves that turn open) and yields only what follows. Sent only to a
    backend whose ``Backend.continues_final_message`` is true (the core refuses it with a 400
    for the others)."""

    def images(self) -> list[RawImage]:
        """Every image of every message, in message order."""
        return [image for message in self.messages for image in message.images()]

    def __repr__(self) -> str:
        return f"ChatTask(messages=<{len(self.messages)}>, n={self.n})"


class CompletionTask(msgspec.Struct, kw_only=True, frozen=True):
    prompts: list[str] | list[list[int]]
    """One choice set per prompt: texts, or token arrays."""
    suffix: str | None = None
    sampling: SamplingParams = SamplingParams()
    max_tokens: int | None = 16
    stop: list[str] = msgspec.field(default_factory=list)
    n: int = 1
    best_of: int | None = None
    echo: bool = False
    logprobs: int | None = None
    """How many alternatives per token to report (0 to 5); None for no logprobs."""
    n_threads: int | None = None

    def __repr__(self) -> str:
        return f"CompletionTask(prompts=<{len(self.prompts)}>, n={self.n})"


class EmbeddingTask(msgspec.Struct, kw_only=True, frozen=True):
    inputs: list[str] | list[list[int]]
    dimensions: int | None = None

    def __repr__(self) -> str:
        return f"EmbeddingTask(inputs=<{len(self.inputs)}>)"
