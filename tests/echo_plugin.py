"""A test plugin registered in fixtures: backend "echo" answers chat, completions and embeddings
by echoing the input word by word (a chat with images first says each image's size), answers
transcriptions with the upload's size, and records what it loaded, ran and saw cancelled."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from multai_core.plugin_api import (
    Backend,
    ChatTask,
    CompletionTask,
    EmbeddingResult,
    EmbeddingTask,
    InferResult,
    InvalidRequest,
    MemoryEstimate,
    ModelSpec,
    Placement,
    Task,
    TextDelta,
    TranscribedSegment,
    TranscriptionInfo,
    TranscriptionTask,
    Usage,
    hookimpl,
)

MiB = 2**20


class EchoHandle:
    def __init__(self, spec: ModelSpec, placement: Placement) -> None:
        self.spec = spec
        self.placement = placement


class EchoPlugin:
    def __init__(self, models: list[ModelSpec] | None = None) -> None:
        self.models = models or [ModelSpec(name="echo", backend="echo")]
        self.loads: list[tuple[str, Placement]] = []
        self.unloads: list[str] = []
        self.started: list[str] = []  # task ids in the order they began running
        self.cancelled: list[str] = []
        self.lock = threading.Lock()

    @hookimpl
    def multai_register_backends(self, register: Callable[[Backend], None]) -> None:
        register(
            Backend(
                name="echo",
                tasks=frozenset(
                    {"chat", "completion", "embedding", "vision", "transcription", "translation"}
                ),
                default_models=self.models,
                concurrency=lambda spec: int(spec.options.get("slots", 1)),
            )
        )

    @hookimpl
    def multai_estimate_memory(self, spec: ModelSpec) -> MemoryEstimate:
        size = int(spec.options.get("bytes", 10 * MiB))
        layers = int(spec.options.get("layers", 10))
        return MemoryEstimate(
            cpu_bytes=size, gpu_bytes=size, layers=layers, layer_bytes=size // max(layers, 1)
        )

    @hookimpl
    def multai_load(self, spec: ModelSpec, placement: Placement) -> EchoHandle:
        if spec.options.get("fail_load"):
            raise RuntimeError("weights are corrupt")
        time.sleep(float(spec.options.get("load_seconds", 0)))
        with self.lock:
            self.loads.append((spec.name, placement))
        return EchoHandle(spec, placement)

    @hookimpl
    def multai_unload(self, handle: EchoHandle) -> None:
        with self.lock:
            self.unloads.append(handle.spec.name)

    @hookimpl
    def multai_infer(self, handle: EchoHandle, task: Task, cancel: threading.Event) -> InferResult:
        match task.payload:
            case EmbeddingTask() as embedding:
                return self._embed(embedding)
            case ChatTask(messages=messages, max_tokens=limit) as chat:
                sizes = [f"image:{im.width}x{im.height}" for im in chat.images()]
                text = " ".join([*sizes, messages[-1].text()])
                return self._generate(handle, task, text, limit, cancel, chat.stop)
            case TranscriptionTask() as transcription:
                return self._transcribe(handle, task, transcription, cancel)
            case CompletionTask(prompts=[str() as prompt], max_tokens=limit) as completion:
                return self._generate(handle, task, prompt, limit, cancel, completion.stop)
            case CompletionTask(prompts=prompts, max_tokens=limit):
                return self._generate(handle, task, str(prompts), limit, cancel)
        raise InvalidRequest(f"the echo backend does not serve {task.payload!r}")

    def _embed(self, embedding: EmbeddingTask) -> EmbeddingResult:
        vectors = []
        for text in embedding.inputs:
            digest = hashlib.sha256(str(text).encode()).digest()[:8]
            vector = [b - 127.5 for b in digest]
            norm = math.sqrt(sum(v * v for v in vector))
            vectors.append([v / norm for v in vector])
        return EmbeddingResult(vectors=vectors, prompt_tokens=len(vectors))

    def _transcribe(
        self,
        handle: EchoHandle,
        task: Task,
        transcription: TranscriptionTask,
        cancel: threading.Event,
    ) -> Iterator[Any]:
        """The upload's size as the transcript, after ``transcribe_seconds`` (a job in flight)."""
        with self.lock:
            self.started.append(task.id)
        yield TranscriptionInfo(language="en", duration=1.0)
        cancel.wait(float(handle.spec.options.get("transcribe_seconds", 0)))
        text = f" {len(transcription.audio)} bytes"
        yield TranscribedSegment(id=0, seek=0, start=0.0, end=1.0, text=text)

    def _generate(
        self,
        handle: EchoHandle,
        task: Task,
        text: str,
        limit: int | None,
        cancel: threading.Event,
        stops: list[str] | None = None,
    ) -> Iterator[Any]:
        if text == "too long":
            raise InvalidRequest(
                "prompt too long", param="messages", code="context_length_exceeded"
            )
        words = text.split() or [""]
        shown, stop_sequence = cut_at_stop(text, stops or [])
        said = words if stop_sequence is None else shown.split()
        delay = float(handle.spec.options.get("token_delay", 0))
        with self.lock:
            self.started.append(task.id)
        if text.startswith("boom-early"):
            raise RuntimeError("secret plugin failure")
        if text.startswith("exit-early"):
            raise SystemExit(3)  # a library that calls sys.exit()
        produced = 0
        try:
            for i, word in enumerate(said):
                if cancel.is_set():
                    return
                if limit is not None and produced >= limit:
                    yield TextDelta(finish_reason="length")
                    break
                if word == "boom":
                    raise RuntimeError("secret plugin failure")
                time.sleep(delay)
                yield TextDelta(text=word if i == 0 else f" {word}")
                produced += 1
            else:
                yield TextDelta(finish_reason="stop", stop_sequence=stop_sequence)
            yield Usage(prompt_tokens=len(words), completion_tokens=produced)
        finally:
            if cancel.is_set():
                with self.lock:
                    self.cancelled.append(task.id)


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, str | None]:
    """The echo up to the first of the task's stop strings in it, and that string (the first
    listed of those that start at the same place), as a model's stop sequence ends its text."""
    found = [(text.find(stop), i, stop) for i, stop in enumerate(stops) if stop and stop in text]
    if not found:
        return text, None
    at, _, stop = min(found)
    return text[:at], stop
