"""MultAI on Ray Serve over a simulated two-node cluster (two one-CPU nodes on this machine), in
this one run:

    python -m bench.bench_ray_routing [--requests 200] [--seeds 7,1,2,3] [--skip-throughput]

(a) Routing: three chat models (SmolLM2 under three names, loaded separately) over two engine
    replicas whose RAM budget holds one model each, a trace of ``--requests`` requests, one at
    a time, from two users (an API key each) in random turns, each staying with a model for a
    while (a user's next request keeps the model with probability 0.9). Prints model loads
    with MultAI's model-affinity router and with a
    round-robin router on the same trace (target: at most a third), the share of requests
    served by a replica that already held their model (target at least 90%), and that every
    request got exactly one answer.
(b) Throughput: one model, four clients, the same requests on one single-thread engine
    replica and on two. Prints requests/s of each and their ratio (target at least 1.7 on two
    cores), twice: with one slot per replica (each serves one request at a time: what a second
    replica adds, alone) and with the default four (one replica already decodes the four
    clients in one batch, so the second core adds what batching had not already given).

Each phase deploys the application anew; loads and requests are read from the ingress's
/metrics (every replica's counters, by engine) before and after.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from ray import serve
from ray.serve.request_router import RequestRouter

from bench._common import smollm2_path
from multai_core.config import Config, MemoryConfig, ServerConfig
from multai_core.plugin_api.types import ModelSpec
from multai_core.ray_serve.deploy import (
    APP_NAME,
    LOOPBACK,
    RayOptions,
    application,
    start_serve,
)
from multai_core.ray_serve.router import ModelAffinityRouter, RoundRobinRouter
from multai_core.ray_serve.simulated import simulated_cluster
from multai_core.testing.server import free_port, wait_until_healthy

MODELS = ("chat-a", "chat-b", "chat-c")
ONE_MODEL_BUDGET = 750 * 1024 * 1024  # SmolLM2 takes 530 MB here: one model per replica
STAY = 0.9
USERS = 2
KEYS = [f"sk-bench-user-{u}" for u in range(USERS)]
THROUGHPUT_TOKENS = 128


def config(
    models: tuple[str, ...], budget: int | None, data: Path, slots: int | None = None
) -> Config:
    gguf = str(smollm2_path())
    options = {} if slots is None else {"n_parallel": slots}
    return Config(
        server=ServerConfig(data_dir=str(data), api_keys=list(KEYS)),
        memory=MemoryConfig(ram_budget_bytes=budget, ram_reserve_bytes=0),
        default_models=False,
        models=[ModelSpec(name=m, backend="llamacpp", path=gguf, options=options) for m in models],
    )


def deploy(cfg: Config, options: RayOptions, port: int) -> str:
    serve.run(application(cfg, options), name=APP_NAME, route_prefix="/")
    base_url = f"http://{LOOPBACK}:{port}"
    wait_until_healthy(base_url, timeout=120)
    time.sleep(3)  # every replica has started its engine and posted to the board
    return base_url


def counters(base_url: str) -> tuple[float, float]:
    """(model loads, finished inferences) summed over the engines."""
    auth = {"authorization": f"Bearer {KEYS[0]}"}
    text = httpx.get(f"{base_url}/metrics", headers=auth, timeout=30).text
    loads = inferences = 0.0
    for line in text.splitlines():
        if line.startswith("multai_model_loads_total{"):
            loads += float(line.rsplit(" ", 1)[1])
        elif line.startswith("multai_inference_seconds_count{"):
            inferences += float(line.rsplit(" ", 1)[1])
    return loads, inferences


def trace(requests: int, seed: int) -> list[tuple[int, str]]:
    """Who asks for which model, in order: users take random turns; each stays with a model
    with probability STAY."""
    rng = random.Random(seed)
    current = [rng.choice(MODELS) for _ in range(USERS)]
    asked = []
    for _ in range(requests):
        user = rng.randrange(USERS)
        if rng.random() > STAY:
            current[user] = rng.choice([m for m in MODELS if m != current[user]])
        asked.append((user, current[user]))
    return asked


def ask(base_url: str, model: str, tag: str, max_tokens: int, user: int = 0) -> int:
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        headers={"x-request-id": tag, "authorization": f"Bearer {KEYS[user]}"},
        json={
            "model": model,
            "messages": [{"role": "user", "content": f"Say one word. ({tag})"}],
            "max_tokens": max_tokens,
            "temperature": 0,
        },
        timeout=300,
    )
    return response.status_code


def run_trace(base_url: str, asked: list[tuple[int, str]]) -> tuple[Counter[int], float, float]:
    before = counters(base_url)
    statuses = Counter(ask(base_url, m, f"r{i}", 4, user) for i, (user, m) in enumerate(asked))
    time.sleep(2.5)  # the replicas post their counters every second
    after = counters(base_url)
    return statuses, after[0] - before[0], after[1] - before[1]


def fewest_loads(models: list[str], slots: int) -> int:
    """The fewest loads any router could do: whenever a model must come in, the one held whose
    next request is furthest away goes out (Belady's rule, knowing the whole trace)."""
    held: set[str] = set()
    loads = 0
    for i, model in enumerate(models):
        if model in held:
            continue
        loads += 1
        if len(held) >= slots:
            later = models[i + 1 :]
            held.remove(max(held, key=lambda m: later.index(m) if m in later else len(later)))
        held.add(model)
    return loads


def routing(port: int, data: Path, requests: int, seed: int) -> None:
    asked = trace(requests, seed)
    models = [model for _, model in asked]
    total = len(asked)
    results: dict[str, tuple[float, float]] = {}
    routers: list[tuple[str, type[RequestRouter]]] = [
        ("round-robin", RoundRobinRouter),
        ("model-affinity", ModelAffinityRouter),
    ]
    for name, router in routers:
        options = RayOptions(replicas=2, router=router, stats_period_s=0.5)
        base_url = deploy(config(MODELS, ONE_MODEL_BUDGET, data), options, port)
        statuses, loads, served = run_trace(base_url, asked)
        print(
            f"{name:>15}: {total} requests, statuses {dict(statuses)}, {served:.0f} inferences, "
            f"{loads:.0f} model loads, served by a replica holding the model "
            f"{1 - loads / total:.1%}"
        )
        assert statuses == Counter({200: total}), statuses
        assert served == total, f"{served} inferences for {total} requests"
        results[name] = (loads, served)
        serve.delete(APP_NAME)
    ratio = results["model-affinity"][0] / max(1.0, results["round-robin"][0])
    print(f"model loads, affinity / round-robin: {ratio:.2f} (target <= 0.33)")
    fewest = fewest_loads(models, slots=2)
    print(
        f"clairvoyant minimum for this trace (Belady, two replicas of one model): {fewest} loads, "
        f"served by a holder {1 - fewest / total:.1%}; affinity / minimum: "
        f"{results['model-affinity'][0] / fewest:.2f}"
    )


def throughput(port: int, data: Path, requests: int, slots: int | None) -> None:
    rates: dict[int, float] = {}
    print(f"-- throughput, {slots or 'default'} slot(s) per replica")
    for replicas in (1, 2):
        cfg = config(MODELS[:1], None, data, slots)
        base_url = deploy(cfg, RayOptions(replicas=replicas), port)
        for i in range(4):  # warm: the model loaded on every replica
            ask(base_url, MODELS[0], f"warm-{replicas}-{i}", THROUGHPUT_TOKENS)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(
                pool.map(
                    lambda i, r=replicas, url=base_url: ask(
                        url, MODELS[0], f"t{r}-{i}", THROUGHPUT_TOKENS
                    ),
                    range(requests),
                )
            )
        rates[replicas] = requests / (time.perf_counter() - started)
        assert statuses.count(200) == requests, Counter(statuses)
        print(f"{replicas} replica(s): {rates[replicas]:.2f} requests/s")
        serve.delete(APP_NAME)
    print(f"throughput, two replicas / one: {rates[2] / rates[1]:.2f} (target >= 1.7)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--throughput-requests", type=int, default=60)
    parser.add_argument(
        "--seeds", default="7", help="traces to run, comma-separated (none: skip routing)"
    )
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home, data = Path(folder) / "home", Path(folder) / "data"
        home.mkdir()
        with simulated_cluster(home):
            port = free_port()
            start_serve(LOOPBACK, port)
            for seed in (int(s) for s in args.seeds.split(",") if s):
                print(f"-- trace of seed {seed}")
                routing(port, data, args.requests, seed)
            if not args.skip_throughput:
                for slots in (1, None):
                    throughput(port, data, args.throughput_requests, slots)


if __name__ == "__main__":
    main()
