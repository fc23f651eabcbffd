"""The CUDA path: the tiny Bark in float16 on a GPU, and the memory estimate against what torch
really allocated. Runs wherever a CUDA GPU is visible; elsewhere it is reported as skipped."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from multai_bark.estimate import FLOAT16, estimate_folder
from multai_bark.handle import load
from multai_bark.safetensors_header import read_tensors, weight_bytes
from multai_bark.synthesis import speak

from multai_core.plugin_api import ModelSpec, Placement, SpeechAudio, SpeechTask

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


def test_tiny_bark_in_float16_on_the_gpu_fits_its_estimate(tiny_bark: Path) -> None:
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    handle = load(
        ModelSpec(name="tiny", backend="bark", path=str(tiny_bark), options={"do_sample": False}),
        Placement(kind="gpu", device="cuda:0", gpu_index=0, gpu_layers=-1),
    )
    try:
        assert {p.dtype for p in handle.model.parameters()} == {torch.float16}
        assert {p.device.type for p in handle.model.parameters()} == {"cuda"}
        text = "A first sentence is here. A second one follows it. Then a third."
        task = SpeechTask(text=text, voice="alloy", response_format="wav")
        audio = b"".join(
            i.data for i in speak(handle, task, threading.Event()) if isinstance(i, SpeechAudio)
        )
        assert len(audio) > 44
        peak = torch.cuda.max_memory_allocated() - before
        estimate = estimate_folder(tiny_bark)
        assert weight_bytes(read_tensors(tiny_bark), FLOAT16) <= peak <= estimate.gpu_bytes
    finally:
        handle.close()
