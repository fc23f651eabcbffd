"""Queue operations: submit-and-take of n requests through MultAI's RequestQueue against a plain
heapq doing the same (push n, pop n), same run, for n = 10,000 and 100,000. Prints the ratio
ours/heapq (target: within 3x) and how each grows from 10k to 100k next to n log n's growth.

    python -m bench.bench_queue_ops
"""

from __future__ import annotations

import heapq
import math
import random
import time

from multai_core.request_queue import RequestQueue

MODELS = ("A", "B", "C")


def workload(n: int) -> list[tuple[int, str]]:
    rng = random.Random(n)
    return [(rng.choice((0, 1, 1, 1, 2)), rng.choice(MODELS)) for _ in range(n)]


def ours(items: list[tuple[int, str]]) -> float:
    queue: RequestQueue[int] = RequestQueue()
    loaded = ("A",)
    started = time.perf_counter()
    for i, (priority, model) in enumerate(items):
        queue.push(i, priority=priority, model=model, now=0.0)
    while queue.pop(loaded=loaded, now=1.0) is not None:
        pass
    return time.perf_counter() - started


def plain_heapq(items: list[tuple[int, str]]) -> float:
    heap: list[tuple[int, int, str]] = []
    started = time.perf_counter()
    for i, (priority, model) in enumerate(items):
        heapq.heappush(heap, (priority, i, model))
    while heap:
        heapq.heappop(heap)
    return time.perf_counter() - started


def best_of(fn: object, items: list[tuple[int, str]], rounds: int = 5) -> float:
    return min(fn(items) for _ in range(rounds))  # type: ignore[operator]


def main() -> None:
    results = {}
    for n in (10_000, 100_000):
        items = workload(n)
        results[n] = (best_of(ours, items), best_of(plain_heapq, items))
        o, h = results[n]
        print(
            f"n={n:>7}: ours {o * 1e3:8.1f} ms   heapq {h * 1e3:8.1f} ms   ratio {o / h:4.2f} (target <= 3)"
        )
    nlogn = (100_000 * math.log(100_000)) / (10_000 * math.log(10_000))
    o_growth = results[100_000][0] / results[10_000][0]
    h_growth = results[100_000][1] / results[10_000][1]
    print(f"growth 10k -> 100k: ours x{o_growth:.1f}, heapq x{h_growth:.1f}, n log n x{nlogn:.1f}")


if __name__ == "__main__":
    main()
