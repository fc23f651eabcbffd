"""The Batch API as the scheduler's background lane, on one MultAI server with SmolLM2, in this
one run:

    python -m bench.bench_batches [--lines 500] [--interactive 60] [--clients 3] [--threads 1]

(a) Interactive chat latency: ``--clients`` clients each send short greedy requests one after
    another with a pause between them (``--think`` seconds), ``--interactive`` requests a phase;
    with the server otherwise idle (half before the batch, half after it), and while a
    ``--lines``-line batch runs. Prints the p95 of each and their ratio with/without (target
    <= 1.25: batch lines must not slow interactive users). The batch is cancelled once its
    phase is done.
(b) Batch throughput: ``--lines`` lines as a batch on an otherwise idle server (from create to
    completed, validation included), against the same requests sent as plain
    /v1/chat/completions requests, [server].batch_lines_in_flight of them at once. Prints lines/s
    of each and the ratio batch/plain (target >= 0.9).

Every prompt starts with its own salt, so that no request reads another's prompt from a slot.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from openai import OpenAI
from openai.types import Batch

from bench._common import median, multai_server, percentile, smollm2_path
from multai_core.config import ServerConfig

N_CTX = 1024
INTERACTIVE_TOKENS = 16
LINE_TOKENS = 32
ENDED = {"completed", "failed", "expired", "cancelled"}
salt = itertools.count()


def _body(max_tokens: int) -> dict[str, Any]:
    prompt = f"Request {next(salt):06d}. Name three things that are green, briefly."
    return {
        "model": "bench",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
    }


def _chat(client: OpenAI, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    client.chat.completions.create(**body)
    return time.perf_counter() - started


def interactive_latencies(client: OpenAI, requests: int, clients: int, think: float) -> list[float]:
    """Each client sends its share one after another, ``think`` seconds apart."""
    share = [requests // clients + (i < requests % clients) for i in range(clients)]

    def one_client(count: int) -> list[float]:
        times = []
        for _ in range(count):
            times.append(_chat(client, _body(INTERACTIVE_TOKENS)))
            time.sleep(think)
        return times

    with ThreadPoolExecutor(clients) as pool:
        return [t for times in pool.map(one_client, share) for t in times]


def start_batch(client: OpenAI, bodies: list[dict[str, Any]]) -> Batch:
    lines = [
        json.dumps(
            {
                "custom_id": f"line-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": body,
            }
        )
        for i, body in enumerate(bodies)
    ]
    content = ("\n".join(lines) + "\n").encode()
    file = client.files.create(file=("bench.jsonl", content), purpose="batch")
    return client.batches.create(
        input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h"
    )


def wait_until_ended(client: OpenAI, batch_id: str, poll: float = 0.1) -> Batch:
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ENDED:
            return batch
        time.sleep(poll)


def wait_until_running(client: OpenAI, batch_id: str) -> int:
    """Until the batch has finished a line (it is past validation and holds the slots); the
    lines it has finished by then."""
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ENDED:
            raise SystemExit(f"the batch ended as {batch.status} before the interactive load")
        if batch.request_counts and batch.request_counts.completed >= 1:
            return batch.request_counts.completed
        time.sleep(0.1)


def batch_rate(client: OpenAI, lines: int) -> float:
    bodies = [_body(LINE_TOKENS) for _ in range(lines)]
    started = time.perf_counter()
    batch = wait_until_ended(client, start_batch(client, bodies).id)
    elapsed = time.perf_counter() - started
    counts = batch.request_counts
    if batch.status != "completed" or counts is None or counts.completed != lines:
        raise SystemExit(f"the throughput batch ended as {batch.status} with {counts}")
    return lines / elapsed


def plain_rate(client: OpenAI, lines: int, in_flight: int) -> float:
    bodies = [_body(LINE_TOKENS) for _ in range(lines)]
    started = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        list(pool.map(lambda body: _chat(client, body), bodies))
    return lines / (time.perf_counter() - started)


@contextlib.contextmanager
def _own_data_dir() -> Iterator[None]:
    """The server keeps the batches and files of this run in a folder of its own."""
    with tempfile.TemporaryDirectory(prefix="multai-bench-batches-") as folder:
        before = os.environ.get("MULTAI_SERVER__DATA_DIR")
        os.environ["MULTAI_SERVER__DATA_DIR"] = folder
        try:
            yield
        finally:
            if before is None:
                del os.environ["MULTAI_SERVER__DATA_DIR"]
            else:
                os.environ["MULTAI_SERVER__DATA_DIR"] = before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=500, help="lines of each batch")
    parser.add_argument("--interactive", type=int, default=60, help="interactive requests/phase")
    parser.add_argument("--clients", type=int, default=3, help="interactive clients at once")
    parser.add_argument("--think", type=float, default=0.5, help="s between a client's requests")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    in_flight = ServerConfig().batch_lines_in_flight
    with _own_data_dir(), multai_server(smollm2_path(), N_CTX, args.threads) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="bench", max_retries=0, timeout=600)
        # warm-up: the load, and decoding as many sequences at once as either part will
        # (the first batched steps of a fresh server are slow)
        plain_rate(client, 2 * max(in_flight, args.clients), max(in_flight, args.clients))
        # alone, with the batch, alone again: the machine's slow spells weigh on both sides
        half = args.interactive // 2
        alone = interactive_latencies(client, half, args.clients, args.think)

        background = start_batch(client, [_body(LINE_TOKENS) for _ in range(args.lines)])
        done_before = wait_until_running(client, background.id)
        with_batch = interactive_latencies(client, args.interactive, args.clients, args.think)
        during = client.batches.retrieve(background.id)
        client.batches.cancel(background.id)
        wait_until_ended(client, background.id)
        if during.status != "in_progress":
            print(
                f"warning: the batch was {during.status} before the interactive load ended; "
                "raise --lines"
            )
        done_after = during.request_counts.completed if during.request_counts else 0
        alone += interactive_latencies(client, args.interactive - half, args.clients, args.think)

        plain = plain_rate(client, args.lines, in_flight)
        batch = batch_rate(client, args.lines)

    p95_alone, p95_with = percentile(alone, 0.95), percentile(with_batch, 0.95)
    print(
        f"SmolLM2, {args.threads} thread(s); interactive: {args.interactive} requests/phase from "
        f"{args.clients} clients, {INTERACTIVE_TOKENS} greedy tokens, {args.think} s apart; "
        f"batch: {args.lines} lines of {LINE_TOKENS} greedy tokens, {in_flight} in flight"
    )
    print(
        f"(a) interactive latency  alone: p50 {median(alone):.3f} s  p95 {p95_alone:.3f} s | "
        f"with batch: p50 {median(with_batch):.3f} s  p95 {p95_with:.3f} s "
        f"({done_after - done_before} batch lines done meanwhile)"
    )
    print(f"    p95 with/without batch: {p95_with / p95_alone:.2f}  (target <= 1.25)")
    print(f"(b) throughput  batch: {batch:.2f} lines/s | plain requests: {plain:.2f} lines/s")
    print(f"    batch/plain: {batch / plain:.2f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
