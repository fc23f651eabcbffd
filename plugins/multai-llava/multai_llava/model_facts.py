"""What the memory estimate needs to know about a model, from its folder alone: tensor shapes
from the safetensors headers, and the context length from config.json."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multai_core.plugin_api.safetensors import TensorInfo
from multai_llava.options import DEFAULT_MAX_CONTEXT, LlavaOptions
from multai_llava.safetensors_header import read_folder

_LAYER = re.compile(r"\.layers\.(\d+)\.")
_VISION = ("vision", "visual", "image_newline", "multi_modal_projector", "mm_projector")


@dataclass(frozen=True)
class ModelFacts:
    tensors: list[TensorInfo]
    n_layers: int
    """Decoder layers of the language model."""
    kv_values_per_token: int
    """Key and value entries one token adds to the cache, over all layers."""
    hidden_size: int
    intermediate_size: int
    n_heads: int
    vocab_size: int
    context: int
    """Longest prompt plus answer this server allows (options.max_context or config)."""
    image_tokens: int
    """Vision-tower tokens of one image (patches + class token)."""
    vision_hidden: int


def is_vision(name: str) -> bool:
    return any(part in name for part in _VISION)


def _text_config(config: dict[str, Any]) -> dict[str, Any]:
    text = config.get("text_config")
    return text if isinstance(text, dict) else config


def _language_layers(tensors: list[TensorInfo]) -> dict[int, list[TensorInfo]]:
    layers: dict[int, list[TensorInfo]] = {}
    for t in tensors:
        match = _LAYER.search(t.name)
        if match and not is_vision(t.name):
            layers.setdefault(int(match.group(1)), []).append(t)
    return layers


def _kv_width(layer: list[TensorInfo], hidden: int) -> int:
    """Output rows of the key and value projections (grouped-query attention makes these
    smaller than the hidden size); a fused qkv projection is assumed to be full attention."""
    width = sum(
        t.shape[0]
        for t in layer
        if t.name.endswith(("k_proj.weight", "v_proj.weight")) and len(t.shape) == 2
    )
    return width or 2 * hidden


def _first_dim(tensors: list[TensorInfo], suffixes: tuple[str, ...], default: int) -> int:
    for t in tensors:
        if t.name.endswith(suffixes) and not is_vision(t.name) and len(t.shape) == 2:
            return t.shape[0]
    return default


def read_facts(folder: Path, options: LlavaOptions) -> ModelFacts:
    tensors = read_folder(folder)
    config_path = folder / "config.json"
    config: dict[str, Any] = {}
    if config_path.is_file():
        config = json.loads(config_path.read_text(encoding="utf-8"))
    text = _text_config(config)
    vision = config.get("vision_config") if isinstance(config.get("vision_config"), dict) else {}
    assert isinstance(vision, dict)

    embed = next((t for t in tensors if "embed_tokens" in t.name and len(t.shape) == 2), None)
    vocab, hidden = (embed.shape[0], embed.shape[1]) if embed else (32000, 4096)
    layers = _language_layers(tensors)
    kv = sum(_kv_width(layer, hidden) for layer in layers.values())
    intermediate = _first_dim(tensors, ("up_proj.weight", "gate_up_proj.weight"), 4 * hidden)
    n_heads = int(text.get("num_attention_heads") or max(1, hidden // 128))

    trained = int(text.get("max_position_embeddings") or DEFAULT_MAX_CONTEXT)
    context = options.max_context or min(trained, DEFAULT_MAX_CONTEXT)

    image_size = int(vision.get("image_size") or 336)
    patch = int(vision.get("patch_size") or 14)
    return ModelFacts(
        tensors=tensors,
        n_layers=len(layers),
        kv_values_per_token=kv,
        hidden_size=hidden,
        intermediate_size=intermediate,
        n_heads=n_heads,
        vocab_size=vocab,
        context=context,
        image_tokens=(image_size // max(patch, 1)) ** 2 + 1,
        vision_hidden=int(vision.get("hidden_size") or 1024),
    )
