"""The plugin through its hooks and modules, in this process, with the tiny LLaVA: loading,
the memory estimate against what loading really takes, streaming text without broken
characters, stop sequences and cancellation between tokens."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import multai_llava.plugin
import pluggy
import pytest
from multai_llava.chat import plan_chat, run_chat
from multai_llava.detokenize import IncrementalDetokenizer
from multai_llava.estimate import breakdown
from multai_llava.model_facts import read_facts
from multai_llava.options import parse_options
from multai_llava.safetensors_header import weight_files
from multai_llava.stops import StopScanner

from multai_core.plugin_api import (
    Backend,
    DeviceSnapshot,
    ModelSpec,
    Placement,
    RawImage,
    Task,
    TextDelta,
    Usage,
    from_pil,
)
from multai_core.plugin_api.safetensors import read_header
from multai_core.plugins import make_plugin_manager
from multai_core.protocol.chat import ChatCompletionRequest
from multai_core.serving.chat_task import chat_task


@pytest.fixture(scope="module")
def pm() -> pluggy.PluginManager:
    manager = make_plugin_manager(load_entry_points=False)
    manager.register(multai_llava.plugin)
    return manager


@pytest.fixture(scope="module")
def spec(tiny_llava: Path) -> ModelSpec:
    return ModelSpec(name="tiny", backend="llava", path=str(tiny_llava))


@pytest.fixture(scope="module")
def handle(pm: pluggy.PluginManager, spec: ModelSpec) -> Iterator[Any]:
    loaded = pm.hook.multai_load(spec=spec, placement=Placement(kind="cpu"))
    yield loaded
    pm.hook.multai_unload(handle=loaded)


def request(**fields: Any) -> ChatCompletionRequest:
    body = {"model": "tiny", "messages": [{"role": "user", "content": "Inspect."}], **fields}
    return msgspec.convert(body, ChatCompletionRequest)


def task(req: ChatCompletionRequest, images: list[RawImage] | None = None) -> Task:
    return Task(id="t", kind="vision", model="tiny", payload=chat_task(req, images or []))


def generator_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "multai-llava-generate"]


def test_importing_the_plugin_imports_no_torch() -> None:
    code = "import sys, multai_core, multai_llava.plugin; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_backend(pm: pluggy.PluginManager) -> None:
    found: list[Backend] = []
    pm.hook.multai_register_backends(register=found.append)
    assert [b.name for b in found] == ["llava"]
    assert found[0].tasks == frozenset({"chat", "vision"})


def test_cpu_load_is_float32_with_the_model_context(handle: Any) -> None:
    import torch

    assert handle.device == "cpu"
    assert {p.dtype for p in handle.model.parameters()} == {torch.float32}
    assert handle.context == 2048  # the tiny model's max_position_embeddings


def test_safetensors_headers_describe_the_files(tiny_llava: Path) -> None:
    for path in weight_files(tiny_llava):
        header_len = int.from_bytes(path.read_bytes()[:8], "little")
        stored = sum(t.nbytes() for t in read_header(path))
        assert stored == path.stat().st_size - 8 - header_len


def test_estimate_weights_equal_what_loading_allocates(
    pm: pluggy.PluginManager, spec: ModelSpec, handle: Any
) -> None:
    facts = read_facts(Path(spec.path), parse_options({}))
    params = sum(p.numel() * p.element_size() for p in handle.model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in handle.model.buffers() if b is not None)
    cpu = breakdown(facts, parse_options({}), gpu=False)
    gpu = breakdown(facts, parse_options({}), gpu=True)
    # tied or non-persistent tensors aside, the header count is the loaded float32 size
    assert params <= cpu.weights <= params + buffers
    assert gpu.weights * 2 == pytest.approx(cpu.weights, rel=0.01)  # float16 on a GPU
    assert facts.n_layers == 2
    assert facts.kv_values_per_token == 2 * 2 * 16  # 2 layers x (k + v) x 2 kv heads x 8 dims
    estimate = pm.hook.multai_estimate_memory(spec=spec, devices=DeviceSnapshot())
    assert estimate.cpu_bytes == cpu.total
    assert estimate.gpu_bytes == gpu.total


def test_estimate_for_a_folder_without_weights(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    from multai_core.plugin_api import ServiceUnavailable

    with pytest.raises(ServiceUnavailable, match="safetensors"):
        pm.hook.multai_estimate_memory(
            spec=ModelSpec(name="empty", backend="llava", path=str(tmp_path)),
            devices=DeviceSnapshot(),
        )


def test_detokenizer_never_splits_a_character(handle: Any) -> None:
    tokenizer = handle.tokenizer
    text = "Riss bei 3 mm — Größe ≈ 2€ 🔧 ok"
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert len(ids) > len(text)  # byte-level: multi-byte characters span several tokens
    detok = IncrementalDetokenizer(
        tokenizer, tokenizer.encode("USER: hi", add_special_tokens=False)
    )
    pieces = [detok.push(i) for i in ids] + [detok.flush()]
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)


def test_detokenizer_matches_a_one_shot_decode_on_random_tokens(handle: Any) -> None:
    import random

    tokenizer = handle.tokenizer
    rng = random.Random(3)
    for _ in range(20):
        ids = [rng.randrange(5, len(tokenizer)) for _ in range(40)]
        detok = IncrementalDetokenizer(tokenizer, [])
        streamed = "".join(detok.push(i) for i in ids) + detok.flush()
        assert streamed == tokenizer.decode(
            ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )


def test_stop_scanner_holds_back_a_possible_stop() -> None:
    scanner = StopScanner(["END", "xyz"])
    assert scanner.push("abcE") == "abc"
    assert scanner.push("N") == ""
    assert scanner.push("x") == "EN"  # "x" may start "xyz"; "EN" can no longer start "END"
    scanner = StopScanner(["END"])
    assert scanner.push("aE") == "a"
    assert scanner.push("Nb") == "ENb"
    assert scanner.push("cEND tail") == "c"
    assert scanner.stopped
    assert scanner.finish() == ""
    tail = StopScanner(["END"])
    assert tail.push("foo EN") == "foo "
    assert tail.finish() == "EN"


def test_default_answer_length_is_what_the_context_leaves(handle: Any) -> None:
    from PIL import Image

    plan = plan_chat(
        handle,
        chat_task(
            request(
                messages=[
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
                ]
            ),
            [from_pil(Image.new("RGB", (10, 10)))],
        ),
    )
    assert plan.max_new_tokens == handle.context - len(plan.prompt_ids)
    assert plan.inputs["pixel_values"].shape == (1, 3, 32, 32)


def test_cancel_stops_between_tokens(handle: Any) -> None:
    cancel = threading.Event()
    stream = run_chat(
        handle, task(request(max_tokens=1500, logit_bias={"2": -100})).payload, cancel
    )
    received: list[Any] = []
    for item in stream:
        received.append(item)
        if len(received) == 3:
            cancel.set()
    assert len(received) == 3
    assert all(isinstance(i, TextDelta) and i.finish_reason is None for i in received)
    assert not any(isinstance(i, Usage) for i in received)
    assert generator_threads() == []


def test_closing_the_stream_early_ends_generation(handle: Any) -> None:
    stream = run_chat(
        handle, task(request(max_tokens=1500, logit_bias={"2": -100})).payload, threading.Event()
    )
    next(stream)
    assert len(generator_threads()) == 1
    stream.close()  # what the scheduler does once the client has gone
    assert generator_threads() == []
    again = list(run_chat(handle, task(request(max_tokens=2)).payload, threading.Event()))
    assert isinstance(again[-1], Usage)
