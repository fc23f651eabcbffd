"""The front doors' cost: the same greedy stream through /v1/responses and /v1/messages
against /v1/chat/completions, one MultAI server on SmolLM2, in this one run.

    python bench/bench_front_doors.py [--rounds 5] [--threads 1]

Each round sends one request through each door, the order rotated every round so that the
machine's slow spells hit all alike; every request's prompt starts with its own salt so that
no door reads another's prompt from the cache. Prints the median time to first token and decode
rate of each door and the ratios door/chat: time to first token chat/door and decode rate
door/chat, both targets >= 0.97 (the translation must cost nothing users can feel). Decode rate
= (text deltas - 1) / (time of last delta - time of first delta).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable, Iterable

from anthropic import Anthropic
from openai import OpenAI

from bench._common import median, multai_server, smollm2_path

PROMPT = "Write the numbers from one to two hundred in words, separated by commas."
MAX_TOKENS = 96
N_CTX = 2048
salt = itertools.count()


def _prompt() -> str:
    return f"Request {next(salt):06d}. {PROMPT}"


class Timing:
    def __init__(self, started: float, stamps: list[float]) -> None:
        if len(stamps) < 2:
            raise SystemExit("a stream gave fewer than two text deltas; raise MAX_TOKENS")
        self.first_token = stamps[0] - started
        self.decode_rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])


def _timed(events: Callable[[], Iterable[bool]]) -> Timing:
    """``events`` yields True for each event that carries generated text."""
    started = time.perf_counter()
    stamps = [time.perf_counter() for is_text in events() if is_text]
    return Timing(started, stamps)


def chat(client: OpenAI) -> Timing:
    def events() -> Iterable[bool]:
        for chunk in client.chat.completions.create(
            model="bench",
            messages=[{"role": "user", "content": _prompt()}],
            max_tokens=MAX_TOKENS,
            temperature=0.0,
            stream=True,
        ):
            yield bool(chunk.choices and chunk.choices[0].delta.content)

    return _timed(events)


def responses(client: OpenAI) -> Timing:
    def events() -> Iterable[bool]:
        for event in client.responses.create(
            model="bench",
            input=_prompt(),
            max_output_tokens=MAX_TOKENS,
            temperature=0.0,
            store=False,
            stream=True,
        ):
            yield event.type == "response.output_text.delta" and bool(event.delta)

    return _timed(events)


def messages(client: Anthropic) -> Timing:
    def events() -> Iterable[bool]:
        for event in client.messages.create(
            model="bench",
            messages=[{"role": "user", "content": _prompt()}],
            max_tokens=MAX_TOKENS,
            # this SDK's create() no longer takes temperature; the Messages API still does
            extra_body={"temperature": 0.0},
            stream=True,
        ):
            yield (
                event.type == "content_block_delta"
                and event.delta.type == "text_delta"
                and bool(event.delta.text)
            )

    return _timed(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with multai_server(smollm2_path(), N_CTX, args.threads) as base:
        openai_client = OpenAI(base_url=f"{base}/v1", api_key="bench", max_retries=0)
        anthropic_client = Anthropic(base_url=base, api_key="bench", max_retries=0)
        doors: dict[str, Callable[[], Timing]] = {
            "chat": lambda: chat(openai_client),
            "responses": lambda: responses(openai_client),
            "messages": lambda: messages(anthropic_client),
        }
        for run in doors.values():  # warm-up: the load and the first prompt
            run()
        results: dict[str, list[Timing]] = {name: [] for name in doors}
        names = list(doors)
        for round_ in range(args.rounds):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                results[name].append(doors[name]())
    first = {name: median([t.first_token for t in r]) for name, r in results.items()}
    rate = {name: median([t.decode_rate for t in r]) for name, r in results.items()}
    print(f"SmolLM2, {args.rounds} rounds, {MAX_TOKENS} greedy tokens, {args.threads} thread(s)")
    print(f"{'door':10} {'TTFT s':>8} {'tok/s':>8} {'TTFT chat/door':>15} {'rate door/chat':>15}")
    for name in names:
        print(
            f"{name:10} {first[name]:8.3f} {rate[name]:8.1f} "
            f"{first['chat'] / first[name]:15.2f} {rate[name] / rate['chat']:15.2f}"
        )


if __name__ == "__main__":
    main()
