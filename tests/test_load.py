"""Load and faults: 500 requests at concurrency 50 across three models under a memory budget
that holds two: every request gets exactly one answer, its own, a 2xx or a documented 429/503."""

from __future__ import annotations

import asyncio
import collections
import gc

import httpx
import psutil

from multai_core.config import Config, MemoryConfig, SchedulerConfig
from multai_core.plugin_api.types import ModelSpec
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin

MiB = 2**20
MODELS = ("m0", "m1", "m2")


def _plugin() -> EchoPlugin:
    return EchoPlugin(
        [
            ModelSpec(name=m, backend="echo", options={"bytes": 10 * MiB, "token_delay": 0.001})
            for m in MODELS
        ]
    )


async def _fire(
    base: str, total: int, concurrency: int, prefix: str = "r"
) -> list[tuple[int, int, str, str]]:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:

        async def one(i: int) -> tuple[int, int, str, str]:
            body = {
                "model": MODELS[i % 3],
                "messages": [{"role": "user", "content": f"request {i} says hello"}],
                "priority": i % 3,
            }
            async with limit:
                r = await client.post(
                    "/v1/chat/completions", json=body, headers={"x-request-id": f"{prefix}{i}"}
                )
            text = r.json()["choices"][0]["message"]["content"] if r.status_code == 200 else ""
            return i, r.status_code, r.headers.get("x-request-id", ""), text

        return await asyncio.gather(*(one(i) for i in range(total)))


def test_500_requests_at_concurrency_50() -> None:
    plugin = _plugin()
    config = Config(
        memory=MemoryConfig(ram_reserve_bytes=0, ram_budget_bytes=25 * MiB),
        scheduler=SchedulerConfig(max_queue=30, queue_timeout_s=60),
    )
    process = psutil.Process()
    with make_server(plugin, config) as base:
        asyncio.run(_fire(base, 20, 5, prefix="warm"))
        gc.collect()
        rss_before = process.memory_info().rss
        results = asyncio.run(_fire(base, 500, 50))
        gc.collect()
        rss_after = process.memory_info().rss
        ps = httpx.get(f"{base}/v1/ps").json()["data"]
        queue = httpx.get(f"{base}/v1/queue").json()["data"]
    statuses = collections.Counter(status for _, status, _, _ in results)
    assert set(statuses) <= {200, 429, 503}, statuses
    assert statuses[200] >= 50 and statuses[429] > 0, statuses  # a full queue says retry later
    for i, status, request_id, text in results:
        assert request_id == f"r{i}"  # one answer each, to the right request
        if status == 200:
            assert text == f"request {i} says hello"  # its own answer, not a neighbour's
    started = collections.Counter(s for s in plugin.started if not s.startswith("warm"))
    assert max(started.values()) == 1  # nothing ran twice
    assert {f"r{i}" for i, s, _, _ in results if s == 200} <= set(started)
    assert len(ps) <= 2 and queue == []  # the budget held; nothing left waiting
    assert len(plugin.loads) > 3  # the budget forced swaps
    assert rss_after - rss_before < 50 * MiB
    print(
        f"statuses {dict(statuses)}, loads {len(plugin.loads)}, rss delta {(rss_after - rss_before) / MiB:.1f} MiB"
    )
