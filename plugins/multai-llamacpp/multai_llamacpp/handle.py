"""A loaded model: the llama_cpp.Llama, its settings, the slot engine that generates for every
request, and a lazy embedding context with its lock."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from multai_core.plugin_api import EngineStats, ModelSpec, Placement
from multai_llamacpp.chat_template import ChatTemplate, load_chat_template
from multai_llamacpp.options import (
    LlamaCppOptions,
    parse_options,
    resolve_n_ctx,
    resolve_n_parallel,
    resolve_threads,
)
from multai_llamacpp.runtime import model_params_override, resolve_cpu_repack

if TYPE_CHECKING:
    import llama_cpp

    from multai_llamacpp.embedding_context import EmbeddingContext
    from multai_llamacpp.slots import SlotEngine


@dataclass(eq=False)
class LlamaHandle:
    spec: ModelSpec
    options: LlamaCppOptions
    placement: Placement
    llama: llama_cpp.Llama
    n_ctx: int
    """Context of one sequence (each slot has this many cells)."""
    n_threads: int
    n_threads_batch: int
    template: ChatTemplate
    engine: SlotEngine
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Guards the embedding context and closing."""
    embedding: EmbeddingContext | None = None
    closed: bool = False

    @property
    def n_vocab(self) -> int:
        return int(self.llama.n_vocab())

    def get_embedding_context(self) -> EmbeddingContext:
        """Created on the first embedding request (call with ``lock`` held): llama.cpp needs a
        context made with embeddings on and a pooling type to give one vector per input. It
        shares this model's weights."""
        if self.embedding is None:
            from multai_llamacpp.embedding_context import EmbeddingContext

            self.embedding = EmbeddingContext(self)
        return self.embedding

    def engine_stats(self) -> EngineStats:
        return self.engine.stats()

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self.engine.close()
            if self.embedding is not None:
                self.embedding.close()
                self.embedding = None
            self.llama.close()


def n_gpu_layers_for(placement: Placement) -> int:
    if placement.kind == "cpu":
        return 0
    if placement.kind == "gpu":
        return -1
    return max(0, placement.gpu_layers)


def load(spec: ModelSpec, placement: Placement) -> LlamaHandle:
    import llama_cpp

    from multai_llamacpp.llama_log import route_llama_log

    route_llama_log()
    options = parse_options(spec.options)
    if not spec.path:
        raise ValueError(f"model {spec.name!r}: the llamacpp backend needs a GGUF path")
    n_threads, n_threads_batch = resolve_threads(options, placement.cpu_threads)
    gpu_layers = n_gpu_layers_for(placement)
    kwargs: dict[str, Any] = {}
    if gpu_layers != 0 and placement.gpu_index is not None:
        kwargs["split_mode"] = llama_cpp.LLAMA_SPLIT_MODE_NONE
        kwargs["main_gpu"] = placement.gpu_index

    # The context size default needs the trained context, which the file's header has.
    from multai_llamacpp.gguf_info import read_gguf_info

    n_ctx = resolve_n_ctx(options, read_gguf_info(spec.path).n_ctx_train)
    n_parallel = resolve_n_parallel(options, spec.max_concurrency)
    repack = resolve_cpu_repack(options)
    with model_params_override(use_extra_bufts=repack, n_seq_max=n_parallel):
        llama = llama_cpp.Llama(
            model_path=spec.path,
            n_gpu_layers=gpu_layers,
            n_ctx=n_ctx * n_parallel,
            n_batch=options.n_batch,
            n_ubatch=options.n_ubatch,
            n_threads=n_threads,
            n_threads_batch=n_threads_batch,
            flash_attn=options.flash_attn,
            use_mmap=options.use_mmap,
            use_mlock=options.use_mlock,
            verbose=options.verbose,
            **kwargs,
        )
    try:
        template = load_chat_template(llama, options)
        from multai_llamacpp.slots import SlotEngine

        engine = SlotEngine(
            llama,
            n_slots=n_parallel,
            n_batch=int(llama.n_batch),
            n_threads=n_threads,
            n_threads_batch=n_threads_batch,
        )
    except Exception:
        llama.close()
        raise
    return LlamaHandle(
        spec=spec,
        options=options,
        placement=placement,
        llama=llama,
        n_ctx=int(llama_cpp.llama_n_ctx_seq(llama.ctx)),
        n_threads=n_threads,
        n_threads_batch=n_threads_batch,
        template=template,
        engine=engine,
    )


def unload(handle: LlamaHandle) -> None:
    handle.close()
