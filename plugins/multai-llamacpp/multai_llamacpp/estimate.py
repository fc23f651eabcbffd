"""Memory estimate from GGUF metadata (no weights read, no llama.cpp import)."""

from __future__ import annotations

from multai_core.plugin_api import MemoryEstimate, ModelSpec
from multai_llamacpp.gguf_info import GgufInfo, read_gguf_info
from multai_llamacpp.options import (
    LlamaCppOptions,
    parse_options,
    resolve_n_ctx,
    resolve_n_parallel,
)
from multai_llamacpp.runtime import gpu_offload_available

MIB = 1024 * 1024
FIXED_OVERHEAD = 8 * MIB
"""Context, graph and sampler bookkeeping that does not grow with the model."""
VOCAB_BYTES_PER_TOKEN = 96
"""llama.cpp's vocabulary maps and token-to-piece cache, per vocabulary entry."""
FA_ATTENTION_COLUMNS = 256
"""With flash attention the attention scratch is per tile, not per context position."""


def kv_cache_bytes(info: GgufInfo, n_ctx: int) -> int:
    return n_ctx * info.n_layer * info.kv_bytes_per_token_per_layer


def activation_bytes(info: GgufInfo, n_ubatch: int) -> int:
    """f32 activations of one micro-batch through one layer (llama.cpp's graph allocator
    reuses them across layers): residual, norms, Q/K/V and the FFN's gate/up/down."""
    per_token = 4 * (
        4 * info.n_embd + 3 * info.n_ff + info.n_head * (2 * info.head_dim_k + info.head_dim_v)
    )
    return n_ubatch * per_token


def attention_bytes(info: GgufInfo, n_ctx: int, n_ubatch: int, flash_attn: bool) -> int:
    columns = min(n_ctx, FA_ATTENTION_COLUMNS) if flash_attn else n_ctx
    return 4 * n_ubatch * info.n_head * columns


def estimate(spec: ModelSpec) -> MemoryEstimate:
    options = parse_options(spec.options)
    info = read_gguf_info(spec.path)
    return estimate_from_info(info, options, resolve_n_parallel(options, spec.max_concurrency))


def estimate_from_info(
    info: GgufInfo, options: LlamaCppOptions, n_parallel: int = 1
) -> MemoryEstimate:
    """``n_parallel`` slots each have a KV cache of ``n_ctx`` cells."""
    n_ctx = resolve_n_ctx(options, info.n_ctx_train)
    n_ubatch = min(options.n_ubatch, options.n_batch, n_ctx)
    kv = n_parallel * kv_cache_bytes(info, n_ctx)
    attention = attention_bytes(info, n_ctx, n_ubatch, options.flash_attn)
    activations = activation_bytes(info, n_ubatch)
    host_fixed = FIXED_OVERHEAD + VOCAB_BYTES_PER_TOKEN * info.n_vocab
    # Generation asks for the last position's logits only: a few vocab-sized f32 rows.
    logits_cpu = 2 * 4 * info.n_vocab
    # The lazily made embedding context shares the weights; it adds its own cache and scratch.
    emb_ctx = min(options.embedding_n_ctx, n_ctx)
    embedding_ctx = kv_cache_bytes(info, emb_ctx) + activation_bytes(info, emb_ctx) // 2

    cpu_bytes = (
        info.total_weight_bytes
        + kv
        + attention
        + activations
        + logits_cpu
        + host_fixed
        + embedding_ctx
    )

    # On a GPU the compute buffer is allocated whole, sized for the worst micro-batch, which
    # includes logits for every position of it.
    gpu_compute = attention + activations + 4 * n_ubatch * info.n_vocab
    gpu_weights = sum(info.layer_weight_bytes) + info.output_bytes + info.other_bytes
    gpu_bytes = gpu_weights + kv + gpu_compute
    # The token embedding table always stays in host memory; so do the host-side buffers.
    gpu_host_bytes = info.token_embd_bytes + host_fixed + logits_cpu + 4 * n_ubatch * info.n_embd

    n_layer = max(info.n_layer, 1)
    biggest_layer = max(info.layer_weight_bytes, default=0)
    layer_bytes = biggest_layer + kv // n_layer
    return MemoryEstimate(
        cpu_bytes=int(cpu_bytes),
        gpu_bytes=int(gpu_bytes),
        gpu_host_bytes=int(gpu_host_bytes),
        layers=info.n_layer,
        layer_bytes=int(layer_bytes),
        partial_gpu_bytes=int(gpu_compute),
        supports_gpu=gpu_offload_available(),
    )
