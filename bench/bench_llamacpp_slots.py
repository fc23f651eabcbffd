"""Many users, one model: MultAI's parallel slots and prompt cache against llama.cpp's own
server (`llama-server -np 4`), same model, same threads, same slots and per-slot context, both
in this one run, one after the other.

    python bench/bench_llamacpp_slots.py --llama-server PATH/TO/llama-server [--threads 1]

Build llama-server once, outside CI (shared/notes/offline-models.md says how). Both servers stay
up (an idle one uses no CPU) and each scenario runs on one then the other, the order swapped
every round, so that the shared machine's slow spells hit both alike. Prints, for each
scenario, the median over rounds of MultAI's figure, the peer's, and the ratio MultAI/peer:
- four concurrent 6-turn conversations, each resending its history with a ~400-token system
  prompt of its own: median time to first token of turn 6 (target <= 1.0);
- one conversation alone: the same (target <= 1.0), and the cached tokens MultAI reports;
- one stream at a time: decode rate (target >= 0.97) and median time to first token (<= 1.0);
- 1, 4 and 8 closed-loop clients: aggregate tokens/s (>= 0.95) and p95 latency (<= 1.0).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from openai import OpenAI

from bench._common import llama_server, median, multai_server, percentile, smollm2_path

N_CTX = 2048  # per slot
SLOTS = 4
TURNS = 6
TOPICS = ["gardening", "sailing", "baking bread", "astronomy", "chess", "beekeeping"]
QUESTIONS = [
    "Give me one tip to get started.",
    "Why does that help?",
    "What is a common mistake?",
    "How do I avoid it?",
    "What should I buy first?",
    "Summarise your advice in one sentence.",
]


def system_prompt(topic: str, salt: int) -> str:
    """About 400 tokens, different for each conversation and each round (llama-server keeps
    evicted prompts in a RAM cache: a repeated round would measure that, not this scenario)."""
    rules = " ".join(
        f"Rule {i}: when the user asks about {topic}, answer in plain words, keep to the point, "
        f"and mention one concrete example from {topic}."
        for i in range(1, 15)
    )
    return f"Session {salt}. You are an expert in {topic} who coaches beginners. {rules}"


class Stream:
    def __init__(self, first_token: float, total: float, tokens: int, cached: int) -> None:
        self.first_token = first_token
        self.total = total
        self.tokens = tokens
        self.cached = cached
        self.stamps: list[float] = []


def stream_chat(
    client: OpenAI, messages: list[Any], max_tokens: int
) -> tuple[str, Stream]:
    started = time.perf_counter()
    first = 0.0
    text: list[str] = []
    stamps: list[float] = []
    tokens = cached = 0
    for chunk in client.chat.completions.create(
        model="bench",
        messages=messages,
        max_tokens=max_tokens,
        temperature=0.0,
        stream=True,
        stream_options={"include_usage": True},
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            now = time.perf_counter()
            first = first or now - started
            stamps.append(now)
            text.append(chunk.choices[0].delta.content)
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
            details = chunk.usage.prompt_tokens_details
            cached = (details.cached_tokens or 0) if details is not None else 0
    result = Stream(first, time.perf_counter() - started, tokens, cached)
    result.stamps = stamps
    return "".join(text), result


def conversation(
    client: OpenAI, topic: str, turns: int, barrier: threading.Barrier | None, salt: int
) -> list[Stream]:
    messages = [{"role": "system", "content": system_prompt(topic, salt)}]
    out: list[Stream] = []
    for question in QUESTIONS[:turns]:
        messages.append({"role": "user", "content": question})
        if barrier is not None:
            barrier.wait()  # every conversation sends its turn together
        answer, stream = stream_chat(client, messages, 32)
        messages.append({"role": "assistant", "content": answer})
        out.append(stream)
    return out


def conversations(client: OpenAI, n: int, salt: int) -> list[list[Stream]]:
    barrier = threading.Barrier(n) if n > 1 else None
    with ThreadPoolExecutor(n) as pool:
        runs = [
            pool.submit(conversation, client, TOPICS[i], TURNS, barrier, salt) for i in range(n)
        ]
        return [r.result() for r in runs]


def single_streams(client: OpenAI, rounds: int, salt: int) -> tuple[float, float]:
    """(decode tokens/s, median first-token seconds) over distinct short prompts."""
    rates, firsts = [], []
    for i in range(rounds):
        start = 1000 * salt + i + 1
        prompt = f"Write the numbers from {start} to {start + 200} in words, separated by commas."
        _, s = stream_chat(client, [{"role": "user", "content": prompt}], 128)
        if len(s.stamps) > 1:
            rates.append((len(s.stamps) - 1) / (s.stamps[-1] - s.stamps[0]))
        firsts.append(s.first_token)
    return median(rates), median(firsts)


def closed_loop(client: OpenAI, clients: int, per_client: int, salt: int) -> tuple[float, float]:
    """(aggregate completion tokens/s, p95 request latency)."""

    def one_client(c: int) -> list[Stream]:
        out = []
        for r in range(per_client):
            topic = TOPICS[(c + r) % len(TOPICS)]
            prompt = f"Round {salt}, client {c}, request {r}: describe a {topic} tool."
            out.append(stream_chat(client, [{"role": "user", "content": prompt}], 64)[1])
        return out

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        streams = [s for group in pool.map(one_client, range(clients)) for s in group]
    elapsed = time.perf_counter() - started
    return sum(s.tokens for s in streams) / elapsed, percentile([s.total for s in streams], 0.95)


def scenarios(
    args: argparse.Namespace, salt: int
) -> dict[str, Callable[[OpenAI], dict[str, float]]]:
    """Each scenario with prompts of its own for round ``salt``."""

    def many(client: OpenAI) -> dict[str, float]:
        together = conversations(client, 4, salt)
        return {
            "4 conversations: turn-6 first token, median s": median(
                [c[-1].first_token for c in together]
            ),
            "4 conversations: turn-1 first token, median s": median(
                [c[0].first_token for c in together]
            ),
        }

    def one(client: OpenAI) -> dict[str, float]:
        alone = conversations(client, 1, salt)[0]
        return {
            "1 conversation: turn-6 first token s": alone[-1].first_token,
            "1 conversation: turn-6 cached tokens": alone[-1].cached,
        }

    def single(client: OpenAI) -> dict[str, float]:
        rate, first = single_streams(client, args.rounds, salt)
        return {"single stream: decode tok/s": rate, "single stream: first token median s": first}

    def loop(n: int) -> Callable[[OpenAI], dict[str, float]]:
        def run(client: OpenAI) -> dict[str, float]:
            tps, p95 = closed_loop(client, n, args.per_client, salt)
            return {f"{n} clients: aggregate tok/s": tps, f"{n} clients: p95 latency s": p95}

        return run

    return {"many": many, "one": one, "single": single, **{f"loop{n}": loop(n) for n in (1, 4, 8)}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--llama-server", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="single-stream requests")
    parser.add_argument("--per-client", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="rounds of every scenario")
    args = parser.parse_args()
    model = smollm2_path()
    figures: dict[str, dict[str, list[float]]] = {"multai": {}, "llama-server": {}}
    with (
        multai_server(model, N_CTX, args.threads, f"n_parallel = {SLOTS}") as ours,
        llama_server(args.llama_server, model, N_CTX, args.threads, SLOTS) as peer,
    ):
        clients = {
            name: OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0, timeout=600)
            for name, base in (("multai", ours), ("llama-server", peer))
        }
        for client in clients.values():
            stream_chat(client, [{"role": "user", "content": "Hello"}], 4)  # warm-up
        for repeat in range(args.repeats):
            for scenario in scenarios(args, repeat).values():
                order = list(clients) if repeat % 2 == 0 else list(clients)[::-1]
                for name in order:
                    for metric, value in scenario(clients[name]).items():
                        figures[name].setdefault(metric, []).append(value)
    print(
        f"SmolLM2 Q4_1, {args.threads} thread(s), {SLOTS} slots of {N_CTX} tokens on both, "
        f"median of {args.repeats} rounds"
    )
    print(f"{'':46} {'multai':>9} {'llama-server':>13} {'ratio':>7}")
    for metric, values in figures["multai"].items():
        ours_m, peer_m = median(values), median(figures["llama-server"][metric])
        ratio = ours_m / peer_m if peer_m else float("nan")
        print(f"{metric:46} {ours_m:9.3f} {peer_m:13.3f} {ratio:7.2f}")


if __name__ == "__main__":
    main()
