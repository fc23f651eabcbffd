"""Queue operations: submit-and-take of n requests through MultAI's RequestQueue against a plain
heapq doing the same (push n, pop n), same run, for n = 10,000 and 100,000, with memory for one
model (the model of the request taken last is the loaded one). Prints the ratio ours/heapq
(target: within 3x), once called plainly and once as the scheduler calls it, and how each grows
from 10k to 100k next to n log n's growth.

    python -m bench.bench_queue_ops
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Callable

from multai_core.engine.request_queue import RequestQueue

MODELS = ("A", "B", "C")


def workload(n: int) -> list[tuple[int, str]]:
    rng = random.Random(n)
    return [(rng.choice((0, 1, 1, 1, 2)), rng.choice(MODELS)) for _ in range(n)]


def ours(items: list[tuple[int, str]]) -> float:
    queue: RequestQueue[int] = RequestQueue()
    loaded = ["A"]
    started = time.perf_counter()
    for i, (priority, model) in enumerate(items):
        queue.push(i, priority=priority, model=model, now=0.0)
    while (taken := queue.pop(loaded=loaded, now=1.0)) is not None:
        loaded[0] = items[taken][1]  # memory for one model: the last one run stays loaded
    return time.perf_counter() - started


def ours_as_scheduled(items: list[tuple[int, str]]) -> float:
    """As the scheduler calls it: peek with a horizon and measured swap costs, check that the
    pick may start, take it."""
    queue: RequestQueue[int] = RequestQueue()
    loaded = ["A"]
    load_s = {"A": 6.0, "B": 6.0, "C": 6.0}

    def may_start(model: str) -> bool:
        return model in load_s  # the scheduler's checks the model's slots and device lane

    def costs(model: str) -> tuple[float, float]:
        return (0.0 if model in loaded else load_s[model]), 1.0

    started = time.perf_counter()
    for i, (priority, model) in enumerate(items):
        queue.push(i, priority=priority, model=model, now=0.0)
    # the scheduler looks first (peek), then takes what may start (here: all of it)
    while (
        taken := queue.peek(loaded=loaded, now=1.0, horizon=7.0, costs=costs)
    ) is not None and may_start(items[taken][1]):
        queue.take(taken)  # its key: keys count from 0 like the items here
        loaded[0] = items[taken][1]
    return time.perf_counter() - started


def plain_heapq(items: list[tuple[int, str]]) -> float:
    heap: list[tuple[int, int, str]] = []
    started = time.perf_counter()
    for i, (priority, model) in enumerate(items):
        heapq.heappush(heap, (priority, i, model))
    while heap:
        heapq.heappop(heap)
    return time.perf_counter() - started


def best_of(
    fn: Callable[[list[tuple[int, str]]], float], items: list[tuple[int, str]], rounds: int = 5
) -> float:
    return min(fn(items) for _ in range(rounds))


def main() -> None:
    results = {}
    for n in (10_000, 100_000):
        items = workload(n)
        results[n] = (best_of(ours, items), best_of(plain_heapq, items))
        o, h = results[n]
        s = best_of(ours_as_scheduled, items)
        print(
            f"n={n:>7}: ours {o * 1e3:8.1f} ms   heapq {h * 1e3:8.1f} ms   ratio {o / h:4.2f} (target <= 3)"
            f"   as scheduled {s * 1e3:8.1f} ms, ratio {s / h:4.2f}"
        )
    nlogn = (100_000 * math.log(100_000)) / (10_000 * math.log(10_000))
    o_growth = results[100_000][0] / results[10_000][0]
    h_growth = results[100_000][1] / results[10_000][1]
    print(f"growth 10k -> 100k: ours x{o_growth:.1f}, heapq x{h_growth:.1f}, n log n x{nlogn:.1f}")


if __name__ == "__main__":
    main()
