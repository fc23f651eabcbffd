"""Reading a server's /metrics in tests, the same way for one engine and for a Ray ingress,
which labels each engine's samples with ``engine`` and shows what each engine posted last
(every second), not what it counts now."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

SETTLE_S = 1.5
"""Longer than a Ray engine replica's period between posts."""


def samples(base_url: str, name: str, **labels: str) -> list[float]:
    """The values of the samples named ``name`` whose labels include ``labels``: one per
    engine and label set. Fails when the server exposes no such sample."""
    text = httpx.get(f"{base_url}/metrics", timeout=30).text
    found = [
        float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]
    assert found, f"{name} {labels} is not in /metrics"
    return found


def metric(base_url: str, name: str, **labels: str) -> float:
    """The sum of ``samples``: over every engine."""
    return sum(samples(base_url, name, **labels))


def settled(read: Callable[[], tuple[float, ...]], timeout: float = 30.0) -> tuple[float, ...]:
    """``read()`` once it gives the same values twice, SETTLE_S apart: every engine has posted
    what it counted before the call."""
    deadline = time.monotonic() + timeout
    last = read()
    while True:
        time.sleep(SETTLE_S)
        now = read()
        if now == last or time.monotonic() > deadline:
            return now
        last = now
