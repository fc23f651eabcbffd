"""The llamacpp plugin's own token loop vs llama-cpp-python's create_completion, in-process,
same run (no server, no HTTP: this isolates what the plugin adds per token).

Both generate 128 greedy tokens from the same prompt tokens with end-of-sequence banned, and
evaluate a ~400-token prompt; runs alternate so that machine noise hits both alike. Prints
tokens/s and prompt time of each and the ratios plugin/direct (target: decode >= 0.95).

    python bench/bench_llamacpp_direct.py [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from typing import Any

import multai_llamacpp.plugin
from multai_llamacpp.options import LlamaCppOptions
from multai_llamacpp.runtime import model_params_override, resolve_cpu_repack

from bench._common import median, smollm2_path
from multai_core.plugin_api import CompletionTask, SamplingParams
from multai_core.plugin_api.results import TextDelta
from multai_core.plugin_api.tasks import Task
from multai_core.plugin_api.types import ModelSpec, Placement
from multai_core.plugins import make_plugin_manager

N_CTX = 2048
MAX_TOKENS = 128
PROMPT = "Write the numbers from one to two hundred in words, separated by commas."
LONG_PROMPT = "Summarise this text. " + "The quick brown fox jumps over the lazy dog. " * 40


def _rate(stamps: list[float]) -> float:
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0


def direct_run(llm: Any, tokens: list[int], bias: dict[int, float], max_tokens: int) -> list[float]:
    llm.reset()  # no prefix cache between rounds, as for the plugin below
    stamps: list[float] = []
    for chunk in llm.create_completion(
        tokens, max_tokens=max_tokens, temperature=0.0, logit_bias=bias, stream=True
    ):
        if chunk["choices"][0]["text"]:
            stamps.append(time.perf_counter())
    return stamps


def plugin_run(
    pm: Any, handle: Any, tokens: list[int], bias: dict[int, float], max_tokens: int
) -> list[float]:
    handle.engine.forget()  # no prefix cache between rounds
    payload = CompletionTask(
        prompts=[tokens],
        max_tokens=max_tokens,
        sampling=SamplingParams(temperature=0.0, logit_bias=dict(bias)),
    )
    task = Task(id="bench", kind="completion", model="bench", payload=payload)
    stamps: list[float] = []
    for item in pm.hook.multai_infer(handle=handle, task=task, cancel=threading.Event()):
        if isinstance(item, TextDelta) and item.text:
            stamps.append(time.perf_counter())
    return stamps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from llama_cpp import Llama

    model = smollm2_path()
    options = {"n_ctx": N_CTX, "n_threads": args.threads}
    repack = resolve_cpu_repack(LlamaCppOptions(**options))
    with model_params_override(use_extra_bufts=repack):  # same load settings as the plugin
        llm = Llama(
            str(model),
            n_ctx=N_CTX,
            n_threads=args.threads,
            n_threads_batch=args.threads,
            flash_attn=True,
            verbose=False,
        )
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(multai_llamacpp.plugin)
    spec = ModelSpec(name="bench", backend="llamacpp", path=str(model), options=options)
    handle = pm.hook.multai_load(spec=spec, placement=Placement(kind="cpu"))

    bias = {int(llm.token_eos()): -100.0, 0: -100.0}
    short = [int(t) for t in llm.tokenize(PROMPT.encode(), False, True)]
    long = [int(t) for t in llm.tokenize(LONG_PROMPT.encode(), False, True)]
    direct_run(llm, short, bias, 8)  # warm-up
    plugin_run(pm, handle, short, bias, 8)

    rates: dict[str, list[float]] = {"direct": [], "plugin": []}
    firsts: dict[str, list[float]] = {"direct": [], "plugin": []}
    for _ in range(args.rounds):
        rates["direct"].append(_rate(direct_run(llm, short, bias, MAX_TOKENS)))
        rates["plugin"].append(_rate(plugin_run(pm, handle, short, bias, MAX_TOKENS)))
        runners: dict[str, Callable[[], list[float]]] = {
            "direct": lambda: direct_run(llm, long, bias, 1),
            "plugin": lambda: plugin_run(pm, handle, long, bias, 1),
        }
        for name, runner in runners.items():
            started = time.perf_counter()
            stamps = runner()
            firsts[name].append(stamps[0] - started if stamps else float("nan"))
    pm.hook.multai_unload(handle=handle)

    d, p = median(rates["direct"]), median(rates["plugin"])
    fd, fp = median(firsts["direct"]), median(firsts["plugin"])
    print(f"decode, direct llama-cpp-python: {d:7.1f} tok/s  {[round(x) for x in rates['direct']]}")
    print(f"decode, multai-llamacpp plugin:  {p:7.1f} tok/s  {[round(x) for x in rates['plugin']]}")
    print(f"ratio plugin/direct (decode):    {p / d:.3f}  (target >= 0.95)")
    print(
        f"first token after a {len(long)}-token prompt: direct {fd * 1000:.0f} ms, "
        f"plugin {fp * 1000:.0f} ms, ratio plugin/direct {fp / fd:.3f} (target <= 1.05)"
    )


if __name__ == "__main__":
    main()
