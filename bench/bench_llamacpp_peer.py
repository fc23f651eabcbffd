"""MultAI vs the peer, llama-cpp-python's own server (llama_cpp.server), same model, same threads,
settings matched (repeat_penalty 1.0 on both; the peer's logits_all off).

20 short streamed chat requests, sequential and then 4 at a time; prints p50/p95 latency and time
to first token for each server and the ratios MultAI/peer (target: <= 1.0, i.e. no slower). Both
servers run in this one run, one after the other, on the same machine.

    python bench/bench_llamacpp_peer.py [--requests 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from openai import OpenAI

from bench._common import llama_cpp_server, multai_server, percentile, smollm2_path

N_CTX = 2048
QUESTIONS = [
    "Say hello in one short sentence.",
    "Name a colour.",
    "What is two plus two?",
    "Give me one word for happy.",
]


def one_request(client: OpenAI, i: int) -> tuple[float, float, int]:
    started = time.perf_counter()
    first = 0.0
    text = []
    for chunk in client.chat.completions.create(
        model="bench",
        messages=[{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
        max_tokens=32,
        temperature=0.0,
        seed=1,
        stream=True,
        extra_body={"repeat_penalty": 1.0},
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter() - started
            text.append(chunk.choices[0].delta.content)
    return time.perf_counter() - started, first, len("".join(text))


def measure(base: str, requests: int, concurrency: int) -> dict[str, float]:
    client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0, timeout=300)
    one_request(client, 0)  # warm-up
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda i: one_request(client, i), range(requests)))
    latency = [r[0] for r in results]
    ttft = [r[1] for r in results]
    return {
        "p50": percentile(latency, 0.5),
        "p95": percentile(latency, 0.95),
        "ttft_p50": percentile(ttft, 0.5),
        "ttft_p95": percentile(ttft, 0.95),
        "chars": sum(r[2] for r in results) / len(results),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    model = smollm2_path()
    results: dict[str, dict[int, dict[str, float]]] = {}  # "chars": mean answer length
    for name, server in (("multai", multai_server), ("llama_cpp.server", llama_cpp_server)):
        with server(model, N_CTX, args.threads) as base:
            results[name] = {c: measure(base, args.requests, c) for c in (1, 4)}
    for concurrency in (1, 4):
        print(f"-- {args.requests} requests, concurrency {concurrency} (seconds)")
        for metric in ("p50", "p95", "ttft_p50", "ttft_p95", "chars"):
            ours = results["multai"][concurrency][metric]
            peer = results["llama_cpp.server"][concurrency][metric]
            print(f"{metric:9} multai {ours:7.3f}   peer {peer:7.3f}   ratio {ours / peer:5.2f}")


if __name__ == "__main__":
    main()
