from __future__ import annotations

import json
import subprocess
import sys

import msgspec
from multai_llamacpp.gguf_info import read_gguf_info

from multai_core.plugin_api import DeviceSnapshot, MemoryEstimate

# Runs in a fresh process so that nothing else this session loaded blurs the figure.
MEASURE = r"""
import gc, json, sys, threading
import msgspec, psutil
import llama_cpp  # the library's own pages are not the model's
from multai_core.plugin_api import ChatTask, Message, ModelSpec, Placement, SamplingParams, TextPart
from multai_llamacpp.chat import run_chat
from multai_llamacpp.handle import load

spec = msgspec.convert(json.loads(sys.argv[1]), ModelSpec)
process = psutil.Process()
gc.collect()
before = process.memory_info().rss
handle = load(spec, Placement(kind="cpu"))
request = ChatTask(
    messages=[Message(role="user", content=[TextPart(text="Say something nice.")])],
    sampling=SamplingParams(temperature=0),
    max_tokens=16,
)
list(run_chat(handle, request, threading.Event()))
gc.collect()
print(process.memory_info().rss - before)
"""


def test_header_reader_agrees_with_gguf_package(spec):
    from gguf import GGUFReader

    info = read_gguf_info(spec.path)
    reference = GGUFReader(spec.path, "r")
    assert info.total_weight_bytes == sum(int(t.n_bytes) for t in reference.tensors)
    assert info.n_layer == 30
    assert len(info.layer_weight_bytes) == 30
    assert info.n_head_kv == 3
    assert info.n_vocab == 49152
    assert info.chat_template is not None
    assert "<|im_start|>" in info.chat_template


def test_estimate_shape(pm, spec):
    est = pm.hook.multai_estimate_memory(spec=spec, devices=DeviceSnapshot())
    assert isinstance(est, MemoryEstimate)
    info = read_gguf_info(spec.path)
    assert est.cpu_bytes > info.total_weight_bytes
    assert est.layers == 30
    assert 0 < est.layer_bytes * est.layers < est.gpu_bytes
    assert est.gpu_host_bytes >= info.token_embd_bytes
    # The KV cache grows with the context: 8192 tokens cost more than 1024.
    small = msgspec.structs.replace(spec, options={"n_ctx": 1024})
    large = msgspec.structs.replace(spec, options={"n_ctx": 8192})
    est_small = pm.hook.multai_estimate_memory(spec=small, devices=DeviceSnapshot())
    est_large = pm.hook.multai_estimate_memory(spec=large, devices=DeviceSnapshot())
    kv_per_token = 30 * 2 * 3 * (64 + 64)
    assert est_large.cpu_bytes - est_small.cpu_bytes >= 7168 * kv_per_token
    # every slot has its own KV cache of n_ctx tokens
    one = msgspec.structs.replace(spec, options={"n_ctx": 1024, "n_parallel": 1})
    est_one = pm.hook.multai_estimate_memory(spec=one, devices=DeviceSnapshot())
    assert est_small.cpu_bytes - est_one.cpu_bytes == 3 * 1024 * kv_per_token


def test_estimate_within_30_percent_of_measured_rss(pm, spec):
    measured_spec = msgspec.structs.replace(spec, options={"n_threads": 1, "use_mmap": False})
    est = pm.hook.multai_estimate_memory(spec=measured_spec, devices=DeviceSnapshot())
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(msgspec.to_builtins(measured_spec))],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    measured = int(result.stdout.strip().splitlines()[-1])
    ratio = est.cpu_bytes / measured
    print(f"estimate {est.cpu_bytes / 2**20:.1f} MiB, measured {measured / 2**20:.1f} MiB")
    assert 0.7 <= ratio <= 1.3, f"estimate/measured = {ratio:.2f}"
