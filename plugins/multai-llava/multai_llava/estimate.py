"""Memory estimate from safetensors headers and config.json: weights in the dtype the
placement loads them in, the KV cache for a full context, and the prefill's activations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from multai_core.plugin_api import MemoryEstimate, ModelSpec, ServiceUnavailable
from multai_core.plugin_api.torch_device import torch_gpu_build
from multai_llava.model_facts import ModelFacts, read_facts
from multai_llava.options import LlavaOptions, parse_options

MIB = 1024 * 1024
GPU_OVERHEAD = 64 * MIB
"""cuBLAS workspaces and the caching allocator's rounding, beside the tensors themselves."""
CPU_OVERHEAD = 256 * MIB
"""Processor, tokenizer and Python objects of a loaded model."""
GPU_HOST_BYTES = 512 * MIB
"""RAM a GPU placement still needs: loading streams the weights (safetensors are memory
mapped), and the processor and the decoded images stay on the host."""
IMAGES_PER_PASS = 4
"""Images the activation estimate allows for in one request's vision pass."""
NF4_BYTES_PER_VALUE = 0.5 + 4 / 64
"""4-bit weights plus one float32 scale per block of 64."""
DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4}


@dataclass(frozen=True)
class Breakdown:
    weights: int
    kv_cache: int
    activations: int
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.activations + self.overhead


def float_bytes(options: LlavaOptions, *, gpu: bool) -> int:
    if options.dtype != "auto":
        return DTYPE_BYTES[options.dtype]
    return 2 if gpu else 4


def _quantized(name: str, shape: tuple[int, ...]) -> bool:
    """Which weights bitsandbytes turns into 4-bit: the Linear layers, not embeddings, norms,
    convolutions or the output head."""
    return (
        len(shape) == 2
        and name.endswith(".weight")
        and "embed" not in name
        and "lm_head" not in name
        and "norm" not in name
    )


def weight_bytes(facts: ModelFacts, value_bytes: int, *, nf4: bool) -> int:
    total = 0
    for t in facts.tensors:
        if nf4 and _quantized(t.name, t.shape):
            total += int(t.numel * NF4_BYTES_PER_VALUE)
        else:
            total += t.nbytes(value_bytes)
    return total


def activation_bytes(facts: ModelFacts, value_bytes: int, eager: bool) -> int:
    """The prefill of a full context through one decoder layer (the allocator reuses these
    buffers layer after layer), the last position's logits in float32, and the vision
    tower's pass over a few images."""
    tokens = facts.context
    per_token = value_bytes * (4 * facts.hidden_size + 3 * facts.intermediate_size)
    scores = facts.n_heads * tokens * tokens * value_bytes if eager else 0
    logits = 3 * 4 * facts.vocab_size
    vision = IMAGES_PER_PASS * facts.image_tokens * value_bytes * 8 * facts.vision_hidden
    return tokens * per_token + scores + logits + vision


def breakdown(facts: ModelFacts, options: LlavaOptions, *, gpu: bool) -> Breakdown:
    value_bytes = float_bytes(options, gpu=gpu)
    nf4 = gpu and options.quantization == "4bit"
    return Breakdown(
        weights=weight_bytes(facts, value_bytes, nf4=nf4),
        kv_cache=facts.context * facts.kv_values_per_token * value_bytes,
        activations=activation_bytes(facts, value_bytes, options.attn_implementation == "eager"),
        overhead=GPU_OVERHEAD if gpu else CPU_OVERHEAD,
    )


def estimate(spec: ModelSpec) -> MemoryEstimate:
    options = parse_options(spec.options)
    try:
        facts = read_facts(Path(spec.path), options)
    except (OSError, ValueError, KeyError) as exc:
        raise ServiceUnavailable(
            f"Model '{spec.name}' cannot be loaded: its folder has no readable .safetensors "
            "weights (the llava backend loads safetensors only).",
        ) from exc
    return MemoryEstimate(
        cpu_bytes=breakdown(facts, options, gpu=False).total,
        gpu_bytes=breakdown(facts, options, gpu=True).total,
        gpu_host_bytes=GPU_HOST_BYTES,
        supports_gpu=torch_gpu_build(),
    )
