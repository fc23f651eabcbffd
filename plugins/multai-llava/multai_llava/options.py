"""Per-model options of the ``llava`` backend (``[[models]] options = {...}`` in the config)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

DType = Literal["auto", "float16", "bfloat16", "float32"]
Quantization = Literal["none", "4bit"]
DEFAULT_MAX_CONTEXT = 4096


class LlavaOptions(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Every field is optional."""

    dtype: DType = "auto"
    """Weights' dtype. "auto": float16 on a GPU, float32 on the CPU (half precision is slow
    or unsupported there)."""
    quantization: Quantization = "none"
    """"4bit": NF4 weights through bitsandbytes (``pip install multai-llava[bnb]``), as the
    thesis ran LLaVA-1.5-7B on small GPUs. Applies to GPU placements only; on the CPU the model
    loads in float32."""
    max_context: int | None = None
    """Longest prompt plus answer in tokens (image tokens included). Default: the language
    model's max_position_embeddings, capped at 4096."""
    max_new_tokens: int | None = None
    """Answer length when a request sets no max_tokens. Default: what the context has left."""
    chat_template: str | None = None
    """A Jinja chat template that replaces the processor's own (or stands in where the model
    folder has none; the LLaVA-1.5 format is used then)."""
    top_k: int = 0
    """Used when a request does not set top_k (0 disables it, as OpenAI samples)."""
    min_p: float = 0.0
    """Used when a request does not set min_p."""
    attn_implementation: Literal["sdpa", "eager"] = "sdpa"


def parse_options(raw: dict[str, Any]) -> LlavaOptions:
    """Validate ``ModelSpec.options``; raises ``ValueError`` naming the bad field."""
    try:
        return msgspec.convert(raw, LlavaOptions)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid llava options: {exc}") from exc
