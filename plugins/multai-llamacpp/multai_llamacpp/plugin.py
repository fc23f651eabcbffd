"""The pack's hooks (entry point ``multai.llamacpp``): the registration, the estimate, load and
unload functions of its modules marked as hook implementations, and the task dispatch.
Nothing here imports llama_cpp."""

from __future__ import annotations

import threading
from collections.abc import Callable

from multai_core.plugin_api import (
    Backend,
    ChatTask,
    CompletionTask,
    EmbeddingTask,
    InferResult,
    InvalidRequest,
    ModelSpec,
    Task,
    hookimpl,
    path_check,
)
from multai_llamacpp import BACKEND_NAME
from multai_llamacpp.estimate import estimate
from multai_llamacpp.handle import LlamaHandle, load, unload
from multai_llamacpp.options import LlamaCppOptions

TASKS = frozenset({"chat", "completion", "embedding"})


@hookimpl
def multai_register_backends(register: Callable[[Backend], None]) -> None:
    from multai_llamacpp.default_model import default_models
    from multai_llamacpp.options import parse_options, resolve_n_parallel

    def slots(spec: ModelSpec) -> int:
        return resolve_n_parallel(parse_options(spec.options), spec.max_concurrency)

    register(
        Backend(
            name=BACKEND_NAME,
            tasks=TASKS,
            options_type=LlamaCppOptions,
            default_models=tuple(default_models()),
            description="GGUF language models through llama.cpp: chat, completions, embeddings",
            concurrency=slots,
            continues_final_message=True,
            check=path_check("file", "a GGUF file"),
        )
    )


multai_estimate_memory = hookimpl(estimate)
multai_load = hookimpl(load)
multai_unload = hookimpl(unload)


@hookimpl
def multai_infer(handle: LlamaHandle, task: Task, cancel: threading.Event) -> InferResult:
    match task.payload:
        case ChatTask() as chat:
            from multai_llamacpp.chat import run_chat

            return run_chat(handle, chat, cancel, priority=task.priority)
        case CompletionTask() as completion:
            from multai_llamacpp.completion import run_completion

            return run_completion(handle, completion, cancel, priority=task.priority)
        case EmbeddingTask() as embedding:
            from multai_llamacpp.embedding import run_embedding

            return run_embedding(handle, embedding)
    raise InvalidRequest(f"the llamacpp backend does not serve {task.kind!r} tasks")
