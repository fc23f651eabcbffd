"""Writes the committed scheduling traces (fixed seed, so they cannot drift):

    python -m bench.traces.make_trace

mixed.json: requests for 3 models (A, B, C) in 4 waves 45 time units apart, as batch jobs and
office hours bring them: each wave has 20 requests within 6 units, each for a model drawn at
random (so arrival order keeps switching models) at priority 1 (70%) or 2 (30%), and one urgent
request (priority 0) at a random time in the first half of the wave; the second wave also has an
interactive burst of 24 requests for model A at priority 1, one a unit.

starvation.json: a steady stream for the loaded model A (one request a unit, as fast as it is
served, for 92 units) with one request each for B (priority 1) and C (priority 1 and 2) early on:
a queue that always prefers the loaded model never gets to B and C until the stream ends.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261126
MODELS = ("A", "B", "C")


def make(seed: int = SEED, gap: float = 45.0, waves: int = 4) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows: list[tuple[float, str, int]] = []
    for wave in range(waves):
        start = wave * gap
        for _ in range(20):
            priority = rng.choices((1, 2), weights=(70, 30))[0]
            rows.append((start + rng.uniform(0, 6), rng.choice(MODELS), priority))
        rows.append((start + rng.uniform(0, gap / 2), rng.choice(MODELS), 0))
        if wave == 1:
            rows.extend((start + 6 + i * 1.0, "A", 1) for i in range(24))
    rows.sort()
    return [
        {"id": i, "t": round(t, 3), "model": m, "priority": p} for i, (t, m, p) in enumerate(rows)
    ]


def make_starvation() -> list[dict[str, object]]:
    rows = [(float(i), "A", 1) for i in range(92)]
    rows += [(5.0, "B", 1), (10.0, "C", 2), (20.0, "C", 1)]
    rows.sort()
    return [{"id": i, "t": t, "model": m, "priority": p} for i, (t, m, p) in enumerate(rows)]


if __name__ == "__main__":
    folder = Path(__file__).parent
    (folder / "mixed.json").write_text(json.dumps(make(), indent=0) + "\n")
    (folder / "starvation.json").write_text(json.dumps(make_starvation(), indent=0) + "\n")
