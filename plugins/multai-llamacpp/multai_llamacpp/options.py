"""Per-model options of the ``llamacpp`` backend (``[[models]] options = {...}`` in the config)."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

import msgspec

N_THREADS_ENV = "MULTAI_LLAMACPP_N_THREADS"
CPU_REPACK_ENV = "MULTAI_LLAMACPP_CPU_REPACK"
DEFAULT_MAX_CTX = 4096
DEFAULT_N_PARALLEL = 4
MAX_N_PARALLEL = 64

Pooling = Literal["auto", "mean", "cls", "last"]


class LlamaCppOptions(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Every field is optional; ``None`` means "work it out from the model and the machine"."""

    n_ctx: int | None = None
    """Context size in tokens of each sequence (each slot has its own KV cache of this size).
    Default: the GGUF's trained context, capped at 4096."""
    n_parallel: Annotated[int, msgspec.Meta(ge=1, le=MAX_N_PARALLEL)] | None = None
    """Sequences decoded together in one batch (slots, as llama.cpp's server calls them); the
    scheduler runs this many requests of the model at once. Default: the model's
    ``max_concurrency`` when the config sets it, else 4."""
    n_threads: int | None = None
    """Generation threads. Default: env MULTAI_LLAMACPP_N_THREADS, else physical cores.
    A request's ``n_threads`` is clamped to this."""
    n_threads_batch: int | None = None
    """Prompt-processing threads. Default: the same as n_threads."""
    n_batch: int = 512
    n_ubatch: int = 512
    flash_attn: bool = True
    """Flash attention: far smaller attention buffers for long contexts, CPU and GPU."""
    use_mmap: bool = True
    use_mlock: bool = False
    cpu_repack: bool | None = None
    """llama.cpp's repacked CPU weight layouts (AMX, AVX/NEON tiles). Default: on, except on CPUs
    that report AMX, where the AMX path crashed inside VMs (general protection fault in
    ldtilecfg) on our machines; env MULTAI_LLAMACPP_CPU_REPACK=1/0 overrides the default."""
    chat_format: str | None = None
    """A llama-cpp-python chat format name (e.g. "chatml", "llama-2") instead of the GGUF's
    own template."""
    chat_template: str | None = None
    """A Jinja chat template string that replaces the GGUF's own."""
    embedding_pooling: Pooling = "auto"
    """How one vector is made per input: "auto" takes the GGUF's pooling type when it has one
    (embedding models), else mean pooling."""
    embedding_n_ctx: int = 512
    """Longest embedding input in tokens (also the embedding context's batch size)."""
    matryoshka: bool = False
    """Set for Matryoshka-trained embedding models: then a smaller ``dimensions`` truncates and
    renormalises. Otherwise ``dimensions`` must equal the model's size."""
    top_k: int = 40
    """Used when a request does not set top_k (0 disables it)."""
    min_p: float = 0.05
    """Used when a request does not set min_p."""
    penalty_last_n: int = -1
    """Tokens that presence/frequency/repeat penalties look back over; -1 means the context."""
    verbose: bool = False
    """llama-cpp-python's own messages while loading, printed raw on stderr (for debugging).
    llama.cpp's log is in the server's log at debug level either way."""


def parse_options(raw: dict[str, Any]) -> LlamaCppOptions:
    """Validate ``ModelSpec.options``; raises ``ValueError`` naming the bad field."""
    try:
        return msgspec.convert(raw, LlamaCppOptions)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid llamacpp options: {exc}") from exc


def physical_cores() -> int:
    try:
        import psutil

        count = psutil.cpu_count(logical=False)
    except ImportError:  # pragma: no cover - psutil is a core dependency
        count = None
    return max(1, count or os.cpu_count() or 1)


def resolve_threads(options: LlamaCppOptions, placement_threads: int = 0) -> tuple[int, int]:
    """(generation threads, prompt threads) for a model: its options, else the environment's
    MULTAI_LLAMACPP_N_THREADS, else the placement's ``cpu_threads``, else the physical cores."""
    n_threads = options.n_threads
    if n_threads is None:
        env = os.environ.get(N_THREADS_ENV, "").strip()
        if env.isdigit() and int(env) > 0:
            n_threads = int(env)
        else:
            n_threads = placement_threads or physical_cores()
    n_batch_threads = options.n_threads_batch or n_threads
    return max(1, n_threads), max(1, n_batch_threads)


def resolve_n_parallel(options: LlamaCppOptions, max_concurrency: int | None) -> int:
    n = options.n_parallel or max_concurrency or DEFAULT_N_PARALLEL
    return max(1, min(MAX_N_PARALLEL, n))


def resolve_n_ctx(options: LlamaCppOptions, n_ctx_train: int) -> int:
    if options.n_ctx is not None and options.n_ctx > 0:
        return options.n_ctx
    if n_ctx_train <= 0:
        return DEFAULT_MAX_CTX
    return min(n_ctx_train, DEFAULT_MAX_CTX)
