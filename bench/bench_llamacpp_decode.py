"""Decode speed through MultAI's server vs llama-cpp-python called directly, same run.

Streams 128 greedy tokens of the same prompt, alternating direct and server runs so that machine
noise hits both alike, and prints tokens/s of each and the ratio server/direct (target >= 0.95).
Decode rate = (completion tokens - 1) / (time of last token - time of first token).

    python bench/bench_llamacpp_decode.py [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import gc
import time

from openai import OpenAI

from bench._common import median, multai_server, smollm2_path

PROMPT = "Write the numbers from one to two hundred in words, separated by commas."
MAX_TOKENS = 128
N_CTX = 2048


def _decode_rate(stamps: list[float]) -> float:
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def direct_run(llm: object, eos_bias: dict[int, float]) -> float:
    stamps: list[float] = []
    for chunk in llm.create_chat_completion(  # type: ignore[attr-defined]
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=MAX_TOKENS,
        temperature=0.0,
        repeat_penalty=1.0,
        logit_bias=eos_bias,
        stream=True,
    ):
        if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
            stamps.append(time.perf_counter())
    return _decode_rate(stamps)


def server_run(client: OpenAI, eos_bias: dict[int, float]) -> float:
    stamps: list[float] = []
    for chunk in client.chat.completions.create(
        model="bench",
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=MAX_TOKENS,
        temperature=0.0,
        logit_bias={str(k): int(v) for k, v in eos_bias.items()},
        stream=True,
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            stamps.append(time.perf_counter())
    return _decode_rate(stamps)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from llama_cpp import Llama
    from multai_llamacpp.runtime import model_params_override

    model = smollm2_path()
    # the same load-time setting the plugin uses (llama.cpp's AMX repacking faults in these VMs)
    with model_params_override(use_extra_bufts=False):
        llm = Llama(
            str(model),
            n_ctx=N_CTX,
            n_threads=args.threads,
            n_threads_batch=args.threads,
            verbose=False,
        )
    eos_bias = {llm.token_eos(): -100.0}  # always 128 tokens
    direct: list[float] = []
    served: list[float] = []
    with multai_server(model, N_CTX, args.threads) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        server_run(client, eos_bias)  # warm-up: loads the model
        direct_run(llm, eos_bias)
        for _ in range(args.rounds):
            direct.append(direct_run(llm, eos_bias))
            gc.collect()
            served.append(server_run(client, eos_bias))
    d, s = median(direct), median(served)
    print(
        f"direct llama-cpp-python: {d:7.1f} tok/s (median of {args.rounds}: {[round(x) for x in direct]})"
    )
    print(
        f"through MultAI server:   {s:7.1f} tok/s (median of {args.rounds}: {[round(x) for x in served]})"
    )
    print(f"ratio server/direct:     {s / d:.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
