"""Memory estimate from the folder's files only: the safetensors headers (every weight's dtype
and shape) and config.json / generation_config.json (sizes of what generation allocates).
float16 on a GPU, float32 on the CPU. No weight is read and nothing heavy is imported.

The four stages run one after another and free their scratch in between, so the peak is the
weights plus the largest stage (checked against the peak RSS growth of each stage at
bark-small's real sizes in float32 on a CPU, MiB measured / estimated: Encodec decoder
358 / 362, fine 239 / 252, semantic 120 / 130):
- semantic and coarse (GPT-like, causal): the key/value cache for the longest sequence (plus
  one layer's copy while the cache grows), the prompt's attention matrix and the logits;
- fine (non-causal) over its whole window: attention matrices, MLP activations, logits;
- the Encodec decoder on the longest audio one generation makes: at its widest stages
  ``num_filters x samples`` values, several alive at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multai_bark.options import parse_options
from multai_bark.safetensors_header import read_tensors, weight_bytes
from multai_core.plugin_api import MemoryEstimate, ModelSpec, ServiceUnavailable
from multai_core.plugin_api.torch_device import torch_gpu_build

MIB = 1024 * 1024
FLOAT16, FLOAT32 = 2, 4
HOST_OVERHEAD = 96 * MIB
"""Tokenizer, voice presets, Python objects and allocator slack beside the weights."""
GPU_SLACK = 32 * MIB
"""The CUDA caching allocator rounds blocks up; a little room for that."""
GPU_HOST_BYTES = 256 * MIB
"""RAM a GPU placement still uses: safetensors pages while loading, tokenizer, presets."""
CODEC_LIVE_TENSORS = 8
"""Decoder activations of the widest size alive at once (input, output, residual, ELU)."""
ATTENTION_COPIES = 3
"""Scores, the masked copy and the softmax."""


@dataclass(frozen=True)
class Stage:
    hidden: int
    layers: int
    heads: int
    vocab: int
    block: int


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ServiceUnavailable(f"Cannot read {path.name} of the Bark folder: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _stage(config: dict[str, Any]) -> Stage:
    return Stage(
        hidden=int(config.get("hidden_size", 768)),
        layers=int(config.get("num_layers", config.get("num_hidden_layers", 12))),
        heads=int(config.get("num_heads", config.get("num_attention_heads", 12))),
        vocab=int(config.get("output_vocab_size", 10_048)),
        block=int(config.get("block_size", 1024)),
    )


def _causal_bytes(stage: Stage, prompt: int, total: int, fb: int) -> int:
    total = min(total, stage.block)
    prompt = min(prompt, total)
    kv_cache = 2 * stage.layers * total * stage.hidden * fb
    growing_copy = 2 * total * stage.hidden * fb
    attention = ATTENTION_COPIES * stage.heads * prompt * total * fb
    mlp = 2 * prompt * 4 * stage.hidden * fb
    logits = prompt * stage.vocab * fb + 2 * stage.vocab * FLOAT32
    return kv_cache + growing_copy + attention + mlp + logits


def _fine_bytes(stage: Stage, window: int, codebooks: int, fb: int) -> int:
    window = min(window, stage.block)
    attention = ATTENTION_COPIES * stage.heads * window * window * fb
    # the stacked codebook embeddings and their sum, QKV, the MLP's 4x widening and residuals
    activations = (2 * codebooks + 4 * 4) * window * stage.hidden * fb
    logits = window * stage.vocab * (fb + 2 * FLOAT32)
    return attention + activations + logits


def workspace_bytes(config: dict[str, Any], generation: dict[str, Any], fb: int) -> int:
    """The largest scratch one stage of one generation needs, for float size ``fb``."""
    semantic_gen = generation.get("semantic_config", {})
    coarse_gen = generation.get("coarse_acoustics_config", {})
    fine_gen = generation.get("fine_acoustics_config", {})
    codec = config.get("codec_config", {})

    semantic_prompt = int(semantic_gen.get("max_input_semantic_length", 256)) + 1
    semantic_new = int(semantic_gen.get("max_new_tokens", 768))
    semantic = _causal_bytes(
        _stage(config.get("semantic_config", {})),
        semantic_prompt,
        semantic_prompt + semantic_new,
        fb,
    )

    coarse_prompt = (
        int(coarse_gen.get("max_coarse_input_length", 256))
        + 1
        + int(coarse_gen.get("max_coarse_history", 630))
    )
    coarse = _causal_bytes(
        _stage(config.get("coarse_acoustics_config", {})),
        coarse_prompt,
        coarse_prompt + int(coarse_gen.get("sliding_window_len", 60)),
        fb,
    )

    fine = _fine_bytes(
        _stage(config.get("fine_acoustics_config", {})),
        int(fine_gen.get("max_fine_input_length", 1024)),
        int(fine_gen.get("n_fine_codebooks", 8)),
        fb,
    )

    seconds = semantic_new / float(semantic_gen.get("semantic_rate_hz", 49.9))
    samples = int(seconds * int(codec.get("sampling_rate", 24_000)))
    codec_bytes = CODEC_LIVE_TENSORS * int(codec.get("num_filters", 32)) * samples * fb
    codec_bytes += samples * FLOAT32
    return max(semantic, coarse, fine, codec_bytes)


def estimate_folder(root: Path) -> MemoryEstimate:
    tensors = read_tensors(root)
    config = _read_json(root / "config.json")
    generation = _read_json(root / "generation_config.json")
    gpu = weight_bytes(tensors, FLOAT16) + workspace_bytes(config, generation, FLOAT16)
    cpu = weight_bytes(tensors, FLOAT32) + workspace_bytes(config, generation, FLOAT32)
    return MemoryEstimate(
        cpu_bytes=cpu + HOST_OVERHEAD,
        gpu_bytes=gpu + GPU_SLACK,
        gpu_host_bytes=GPU_HOST_BYTES,
        supports_gpu=torch_gpu_build(),
    )


def estimate(spec: ModelSpec) -> MemoryEstimate:
    parse_options(spec.options, spec.name)  # a bad config fails before anything loads
    return estimate_folder(Path(spec.path))
