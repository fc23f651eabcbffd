"""The model's chat template: the GGUF's Jinja template (or an override) -> prompt tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from multai_core.plugin_api import InvalidRequest
from multai_llamacpp.options import LlamaCppOptions

if TYPE_CHECKING:
    import llama_cpp

Renderer = Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], tuple[str, list[str]]]
PREFILL_MARK = "\ue000multai-prefill\ue000"
"""Stands in for a prefilled answer while the template renders (private-use characters, which
no template writes), so that the prompt can end where that answer's text would."""


@dataclass
class ChatTemplate:
    name: str
    renderer: Renderer
    native_tools: bool
    """The template renders ``tools`` and tool-call messages itself."""
    bos_text: str = ""
    add_bos: bool = False
    stop: list[str] = field(default_factory=list)

    def render(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        *,
        continue_final: bool = False,
    ) -> tuple[str, list[str]]:
        """The prompt and the template's stops. ``continue_final``: the last (assistant)
        message is the start of the answer, so the prompt ends with its text, that turn left
        open (vLLM's continue_final_message)."""
        if not continue_final:
            return self._render(messages, tools)
        final = messages[-1] if messages else {}
        if final.get("role") != "assistant" or final.get("tool_calls"):
            raise InvalidRequest(
                "Only a final assistant message of text can be continued.", param="messages"
            )
        marked = [*messages[:-1], {**final, "content": PREFILL_MARK}]
        prompt, stops = self._render(marked, tools)
        at = prompt.rfind(PREFILL_MARK)
        if at < 0 or PREFILL_MARK in prompt[:at]:
            raise InvalidRequest(
                f"This model's chat template ({self.name}) does not render a final assistant "
                "message as written, so it cannot be continued; end the messages with a user "
                "turn.",
                param="messages",
            )
        return prompt[:at] + str(final.get("content") or ""), stops

    def _render(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> tuple[str, list[str]]:
        try:
            return self.renderer(messages, tools)
        except InvalidRequest:
            raise
        except Exception as exc:  # jinja2 errors, raise_exception() in templates
            raise InvalidRequest(
                f"the model's chat template rejected these messages: {exc}", param="messages"
            ) from None

    def tokenize(self, llama: llama_cpp.Llama, prompt: str) -> list[int]:
        add_bos = self.add_bos and not (self.bos_text and prompt.startswith(self.bos_text))
        return [int(t) for t in llama.tokenize(prompt.encode("utf-8"), add_bos, True)]


def _token_text(llama: llama_cpp.Llama, token: int) -> str:
    if token < 0:
        return ""
    return bytes(llama.detokenize([token], special=True)).decode("utf-8", errors="replace")


def _named_formatter(name: str) -> Callable[..., Any]:
    from llama_cpp import llama_chat_format

    candidates = {name, name.replace("-", "_"), name.replace("-", ""), name.replace("_", "")}
    for candidate in candidates:
        func = getattr(llama_chat_format, f"format_{candidate}", None)
        if callable(func):
            return func  # type: ignore[no-any-return]
    raise ValueError(f"unknown chat_format {name!r} for llama-cpp-python")


def load_chat_template(llama: llama_cpp.Llama, options: LlamaCppOptions) -> ChatTemplate:
    import llama_cpp as lib
    from llama_cpp import llama_chat_format

    vocab = lib.llama_model_get_vocab(llama.model)
    bos_text = _token_text(llama, int(lib.llama_vocab_bos(vocab)))
    eos_text = _token_text(llama, int(llama.token_eos()))
    add_bos = bool(lib.llama_vocab_get_add_bos(vocab))

    if options.chat_format is not None and options.chat_template is None:
        func = _named_formatter(options.chat_format)

        def render_named(
            messages: list[dict[str, Any]], _tools: list[dict[str, Any]] | None
        ) -> tuple[str, list[str]]:
            result = func(messages=messages)
            stop = result.stop if isinstance(result.stop, list) else [result.stop or ""]
            return str(result.prompt), [s for s in stop if s]

        return ChatTemplate(
            name=options.chat_format,
            renderer=render_named,
            native_tools=False,
            bos_text=bos_text,
            add_bos=add_bos,
        )

    source = options.chat_template or llama.metadata.get("tokenizer.chat_template")
    if not source:
        # No template anywhere: llama-cpp-python's fallback is llama-2; ChatML is the more
        # common convention for small instruction models.
        return load_chat_template(
            llama, msgspec_replace(options, chat_format="chatml", chat_template=None)
        )
    formatter = llama_chat_format.Jinja2ChatFormatter(
        template=source,
        eos_token=eos_text,
        bos_token=bos_text,
        add_generation_prompt=True,
    )

    def render_jinja(
        messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> tuple[str, list[str]]:
        result = cast(Any, formatter)(messages=messages, tools=tools)
        return str(result.prompt), []

    return ChatTemplate(
        name="gguf" if options.chat_template is None else "custom",
        renderer=render_jinja,
        native_tools="tools" in source,
        bos_text=bos_text,
        add_bos=add_bos,
    )


def msgspec_replace(options: LlamaCppOptions, **changes: Any) -> LlamaCppOptions:
    import msgspec

    return msgspec.structs.replace(options, **changes)
