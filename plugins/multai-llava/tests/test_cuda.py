"""The GPU path, wherever a CUDA GPU is present (skipped elsewhere, and reported as skipped):
the tiny LLaVA loads in float16 on cuda:0, answers about two images, and its memory estimate
bounds what torch.cuda.max_memory_allocated measured. 4-bit through bitsandbytes where it is
installed."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import msgspec
import multai_llava.plugin
import pluggy
import pytest
from multai_llava.estimate import GPU_OVERHEAD, breakdown
from multai_llava.model_facts import read_facts
from multai_llava.options import parse_options

from multai_core.plugin_api import (
    DeviceSnapshot,
    ModelSpec,
    Placement,
    Task,
    TextDelta,
    Usage,
    from_pil,
)
from multai_core.plugins import make_plugin_manager
from multai_core.protocol.chat import ChatCompletionRequest
from multai_core.serving.chat_task import chat_task

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
GPU = Placement(kind="gpu", device="cuda:0", gpu_index=0)


@pytest.fixture
def pm() -> pluggy.PluginManager:
    manager = make_plugin_manager(load_entry_points=False)
    manager.register(multai_llava.plugin)
    return manager


def two_image_task(prompt_chars: int, max_tokens: int) -> Task:
    from PIL import Image

    part = {"type": "image_url", "image_url": {"url": "x"}}
    req = msgspec.convert(
        {
            "model": "tiny",
            "messages": [
                {
                    "role": "user",
                    "content": [part, {"type": "text", "text": "a" * prompt_chars}, part],
                }
            ],
            "max_tokens": max_tokens,
            "logit_bias": {"2": -100},
        },
        ChatCompletionRequest,
    )
    images = [Image.new("RGB", (64, 64), (200, 0, 0)), Image.new("RGB", (300, 200), (0, 0, 200))]
    payload = chat_task(req, [from_pil(image) for image in images])
    return Task(id="gpu", kind="vision", model="tiny", payload=payload)


def run(pm: pluggy.PluginManager, handle: Any, task: Task) -> list[Any]:
    return list(pm.hook.multai_infer(handle=handle, task=task, cancel=threading.Event()))


def test_float16_on_gpu_within_the_estimate(pm: pluggy.PluginManager, tiny_llava: Path) -> None:
    spec = ModelSpec(name="tiny", backend="llava", path=str(tiny_llava))
    estimate = pm.hook.multai_estimate_memory(spec=spec, devices=DeviceSnapshot())
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    handle = pm.hook.multai_load(spec=spec, placement=GPU)
    try:
        assert {p.dtype for p in handle.model.parameters()} == {torch.float16}
        assert {p.device.type for p in handle.model.parameters()} == {"cuda"}
        loaded = torch.cuda.memory_allocated() - base
        weights = breakdown(
            read_facts(tiny_llava, parse_options({})), parse_options({}), gpu=True
        ).weights
        assert weights <= loaded <= weights + 1024 * 1024  # allocator rounding aside
        # a long prompt near the context's end, two images, then tokens up to the limit
        items = run(pm, handle, two_image_task(prompt_chars=1700, max_tokens=200))
        assert isinstance(items[-1], Usage) and items[-1].completion_tokens == 200
        assert any(isinstance(i, TextDelta) and i.text for i in items)
        peak = torch.cuda.max_memory_allocated() - base
        print(f"tiny llava on GPU: estimate {estimate.gpu_bytes} B, peak allocated {peak} B")
        assert peak <= estimate.gpu_bytes
        assert estimate.gpu_bytes - GPU_OVERHEAD <= max(4 * peak, 8 * 1024 * 1024)
    finally:
        pm.hook.multai_unload(handle=handle)
    assert torch.cuda.memory_allocated() - base < 1024 * 1024


@pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is None, reason="bitsandbytes not installed"
)
def test_4bit_on_gpu(pm: pluggy.PluginManager, tiny_llava: Path) -> None:
    spec = ModelSpec(
        name="tiny", backend="llava", path=str(tiny_llava), options={"quantization": "4bit"}
    )
    estimate = pm.hook.multai_estimate_memory(spec=spec, devices=DeviceSnapshot())
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    handle = pm.hook.multai_load(spec=spec, placement=GPU)
    try:
        assert handle.quantized
        items = run(pm, handle, two_image_task(prompt_chars=100, max_tokens=20))
        assert isinstance(items[-1], Usage) and items[-1].completion_tokens == 20
        assert torch.cuda.max_memory_allocated() - base <= estimate.gpu_bytes
    finally:
        pm.hook.multai_unload(handle=handle)
