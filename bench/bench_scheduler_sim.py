"""FIFO vs the thesis's queue vs MultAI's scheduler on a virtual clock.

A test backend whose load takes L and one request S time units (defaults 6 and 1); 3 models;
memory for one (or two) of them; the least recently used is evicted, one with no request waiting
first (as the memory manager does); one device, one request at a time.
The traces are committed (bench/traces/, fixed seed; see make_trace.py): mixed.json for loads,
makespan and urgent waits, starvation.json for the aging bound. All three policies are the
real `RequestQueue` (policy "fifo", "thesis", "multai"). Aging bounds: 60 units for priority 1
and 240 for 2 (the server's defaults, 30 s and 120 s, with service times in seconds, scale the same way). Finally the
same comparison over 20 other seeds of the same generator, to show how much the verdict depends
on the draw. Two yardsticks beside each run: the shortest makespan any scheduler could reach,
and what a schedule that knows every arrival in advance reaches (bench/sim_clairvoyant.py).

    python -m bench.bench_scheduler_sim [--load 6] [--service 1]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.sim_clairvoyant import clairvoyant
from multai_core.engine.request_queue import Policy, RequestQueue

TRACES = Path(__file__).parent / "traces"
AGING = {1: 60.0, 2: 240.0}


@dataclass
class Request:
    id: int
    t: float
    model: str
    priority: int
    start: float = -1.0


@dataclass
class Outcome:
    loads: int
    makespan: float
    waits: dict[int, list[float]]


Picker = Callable[[list[Request], list[str], float], Request]


def simulate(
    trace: list[Request], capacity: int, load: float, service: float, policy: Policy
) -> Outcome:
    pending = sorted(trace, key=lambda r: r.t)
    resident: list[str] = []  # least recently used first
    queue: RequestQueue[Request] = RequestQueue(AGING, policy=policy)
    now, loads, i, waiting = 0.0, 0, 0, 0
    done: list[Request] = []
    while len(done) < len(trace):
        while i < len(pending) and pending[i].t <= now:
            r = pending[i]
            queue.push(r, priority=r.priority, model=r.model, now=r.t)
            i, waiting = i + 1, waiting + 1
        if not waiting:
            now = pending[i].t
            continue
        chosen = queue.pop(
            loaded=resident,
            now=now,
            horizon=min(load + service, 0.5 * min(AGING.values())),
            costs=lambda m: (0.0 if m in resident else load, service),
        )
        assert chosen is not None
        waiting -= 1
        chosen.start = now
        if chosen.model in resident:
            resident.remove(chosen.model)
        else:
            loads += 1
            if len(resident) >= capacity:
                resident.remove(min(resident, key=lambda m: queue.waiting_for(m) > 0))
            now += load
        resident.append(chosen.model)
        now += service
        done.append(chosen)
    waits: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for r in done:
        waits[r.priority].append(r.start - r.t)
    return Outcome(loads, now, waits)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def run(
    capacity: int,
    load: float,
    service: float,
    raw: list[dict[str, object]],
    quiet: bool = False,
    aging_only: bool = False,
) -> bool:
    results = {
        name: simulate([Request(**r) for r in raw], capacity, load, service, policy)  # type: ignore[arg-type]
        for name, policy in (("fifo", "fifo"), ("thesis", "thesis"), ("ours", "multai"))
    }
    if quiet:
        return _verdict(results, load, service, quiet, aging_only)
    print(
        f"\n== memory for {capacity} model(s), load {load}, service {service}, {len(raw)} requests"
    )
    print(
        f"{'policy':8} {'loads':>5} {'makespan':>9}  "
        + "  ".join(f"p{p} p50/p99" for p in (0, 1, 2))
        + "  longest  over-bound"
    )
    for policy, o in results.items():
        cells = "  ".join(
            f"{pct(o.waits[p], 0.5):5.1f}/{pct(o.waits[p], 0.99):5.1f}" for p in (0, 1, 2)
        )
        longest = max(w for ws in o.waits.values() for w in ws)
        over = _over(o, load, service)
        print(f"{policy:8} {o.loads:5d} {o.makespan:9.1f}  {cells}  {longest:7.1f}  {over:5d}")
    if not aging_only:
        least = shortest_possible_makespan(raw, capacity, load, service)
        target = 0.6 * results["fifo"].makespan
        print(
            f"no scheduler can finish before {least:.1f}; the makespan target is {target:.1f}"
            + (": out of reach on this trace" if least > target else "")
        )
        loads, makespan = clairvoyant(raw, capacity, load, service)
        print(
            f"knowing every arrival in advance (same priority order, no aging bound): "
            f"{loads} loads, makespan {makespan:.1f}"
        )
    return _verdict(results, load, service, quiet, aging_only)


def shortest_possible_makespan(
    raw: list[dict[str, object]], capacity: int, load: float, service: float
) -> float:
    """A lower bound for any scheduler: at each arrival time t, what arrives from t on needs one
    service each, and a load for each of its models beyond the ``capacity`` resident at t."""
    rows = sorted(raw, key=lambda r: float(r["t"]))  # type: ignore[arg-type]
    least = 0.0
    for i, row in enumerate(rows):
        later = rows[i:]
        models = len({r["model"] for r in later})
        least = max(
            least,
            float(row["t"]) + service * len(later) + load * max(0, models - capacity),  # type: ignore[arg-type]
        )
    return least


def _over(o: Outcome, load: float, service: float) -> int:
    bounds = {0: load + service, 1: AGING[1], 2: AGING[2]}
    return sum(w > bounds[p] for p in (0, 1, 2) for w in o.waits[p])


def _verdict(
    results: dict[str, Outcome], load: float, service: float, quiet: bool, aging_only: bool
) -> bool:
    fifo, ours, thesis = results["fifo"], results["ours"], results["thesis"]
    checks = {
        "loads <= 1/3 of FIFO's": ours.loads <= fifo.loads / 3,
        "makespan <= 0.6 of FIFO's": ours.makespan <= 0.6 * fifo.makespan,
        "p99 wait of priority 0 <= one load + one service": pct(ours.waits[0], 0.99)
        <= load + service,
        "no request over its aging bound": _over(ours, load, service) == 0,
    }
    if aging_only:  # the starvation trace is about the aging bound alone
        checks = {k: v for k, v in checks.items() if "aging" in k}
    if not quiet:
        for name, ok in checks.items():
            print(f"  {'PASS' if ok else 'FAIL'}  ours: {name}")
        print(
            f"  the thesis's queue: {_over(thesis, load, service)} request(s) over their aging bound"
        )
        print(
            f"  ratios ours/FIFO: loads {ours.loads / fifo.loads:.2f}, makespan {ours.makespan / fifo.makespan:.2f}"
        )
    return all(checks.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", type=float, default=6.0)
    parser.add_argument("--service", type=float, default=1.0)
    args = parser.parse_args()
    for name in ("mixed", "starvation"):
        raw = json.loads((TRACES / f"{name}.json").read_text())
        print(f"\n##### trace {name}.json")
        ok = [run(c, args.load, args.service, raw, aging_only=name == "starvation") for c in (1, 2)]
        print(f"\n{name}.json: " + ("all targets met" if all(ok) else "some targets missed"))
    from bench.traces.make_trace import make

    for capacity in (1, 2):
        met = sum(
            run(capacity, args.load, args.service, make(seed), quiet=True) for seed in range(20)
        )
        print(f"mixed trace, seeds 0-19, memory for {capacity}: all four targets met on {met}/20")


if __name__ == "__main__":
    main()
