"""FIFO vs the thesis's queue vs MultAI's scheduler with two real plugins: multai-llamacpp
(SmolLM2) and multai-whisper (Whisper base), under a RAM budget that holds one of them at a
time, so that every switch between chat and speech is a real unload and load.

The same committed trace (bench/traces/mixed.json's first 36 requests, models A and B mapped to
chat and C to transcription, arrival times scaled by --scale seconds per unit) is replayed
against a fresh server per policy, one after the other in this run. Prints model loads (from
/metrics), makespan, and p50/p99 latency per priority.

    python -m bench.bench_scheduler_real [--requests 36] [--scale 0.25]
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from pathlib import Path

import httpx
from multai_whisper.default_model import default_models as whisper_models
from openai import OpenAI

from bench._common import percentile, smollm2_path
from multai_core.testing.server import multai_process

ROOT = Path(__file__).parent
AUDIO = ROOT.parent / "plugins" / "multai-whisper" / "tests" / "fixtures" / "en_call.wav"
MiB = 2**20


def config_text(policy: str, budget: int) -> str:
    whisper = whisper_models()[0]
    return f"""
[memory]
ram_reserve_bytes = 0
ram_budget_bytes = {budget}

[scheduler]
policy = "{policy}"
aging_s_priority_1 = 15
aging_s_priority_2 = 60

[[models]]
name = "chat"
backend = "llamacpp"
path = "{smollm2_path()}"
options = {{ n_ctx = 512, n_threads = 1 }}
keep_alive = -1

[[models]]
name = "speech"
backend = "whisper"
path = "{whisper.path}"
options = {{ packaged_model = "{whisper.options["packaged_model"]}", cpu_threads = 1 }}
keep_alive = -1
"""


def replay(base: str, trace: list[dict[str, object]], scale: float) -> dict[int, list[float]]:
    client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0, timeout=600)
    audio = AUDIO.read_bytes()
    latencies: dict[int, list[float]] = {0: [], 1: [], 2: []}
    lock = threading.Lock()
    failures: list[str] = []
    start = time.perf_counter()

    def one(row: dict[str, object]) -> None:
        time.sleep(max(0.0, float(row["t"]) * scale - (time.perf_counter() - start)))  # type: ignore[arg-type]
        sent = time.perf_counter()
        priority = int(row["priority"])  # type: ignore[call-overload]
        try:
            call(row, priority)
        except Exception as exc:
            with lock:
                failures.append(type(exc).__name__)
            return
        with lock:
            latencies[priority].append(time.perf_counter() - sent)

    def call(row: dict[str, object], priority: int) -> None:
        if row["model"] == "C":
            client.audio.transcriptions.create(
                model="speech", file=("call.wav", audio), extra_body={"priority": priority}
            )
        else:
            client.chat.completions.create(
                model="chat",
                messages=[{"role": "user", "content": "Say hello."}],
                max_tokens=16,
                temperature=0,
                extra_body={"priority": priority},
            )

    threads = [threading.Thread(target=one, args=(row,)) for row in trace]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies[-1] = [time.perf_counter() - start]  # makespan
    if failures:
        print(f"  {len(failures)} request(s) failed: {sorted(set(failures))}")
    return latencies


def loads(base: str) -> int:
    text = httpx.get(f"{base}/metrics").text
    return int(
        sum(float(v) for v in re.findall(r"^multai_model_loads_total\{[^}]*\} (\S+)$", text, re.M))
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=36)
    parser.add_argument("--scale", type=float, default=0.25)
    args = parser.parse_args()
    trace = json.loads((ROOT / "traces" / "mixed.json").read_text())[: args.requests]
    budget = 700 * MiB  # SmolLM2 (about 0.24 GiB estimated) or Whisper base (about 0.65), not both
    print(
        f"{len(trace)} requests (chat : speech = {sum(r['model'] != 'C' for r in trace)} : "
        f"{sum(r['model'] == 'C' for r in trace)}), RAM budget {budget // MiB} MiB, 1 thread each"
    )
    print(
        f"{'policy':8} {'loads':>5} {'makespan s':>10}  "
        + "  ".join(f"p{p} p50/p99 s" for p in (0, 1, 2))
    )
    for policy in ("fifo", "thesis", "multai"):
        config = Path(f"/tmp/multai-bench-{policy}.toml")
        config.write_text(config_text(policy, budget))
        env = {"MULTAI_LOAD_PLUGINS": "llamacpp,whisper", "MULTAI_SERVER__LOG_LEVEL": "warning"}
        with multai_process(config=config, env=env) as base:
            result = replay(base, trace, args.scale)
            count = loads(base)
        cells = "  ".join(
            f"{percentile(result[p], 0.5):5.2f}/{percentile(result[p], 0.99):5.2f}"
            if result[p]
            else "      -    "
            for p in (0, 1, 2)
        )
        print(f"{policy:8} {count:5d} {result[-1][0]:10.1f}  {cells}")


if __name__ == "__main__":
    main()
