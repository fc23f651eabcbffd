"""A reference for the scheduling simulation: a schedule that knows every arrival in advance.

Beam search over the same virtual clock (one device, load L, service S, memory for `capacity`
models) under the same priority rules as the thesis (priority 0 first in arrival order, then 1,
then 2; arrival order within a model), choosing at each step which waiting model to serve and
which resident model to evict. It ignores the aging bounds, so it is a yardstick for loads and
makespan, not a policy: no online scheduler can know what arrives next.
"""

from __future__ import annotations

from collections import defaultdict

_Class = tuple[str, int]  # (model, priority)
_State = tuple[int, float, tuple[str, ...], tuple[int, ...]]  # loads, now, resident, taken


def clairvoyant(
    raw: list[dict[str, object]], capacity: int, load: float, service: float, width: int = 300
) -> tuple[int, float]:
    """(loads, makespan) of the best schedule the beam finds, fewest loads first."""
    arrivals: dict[_Class, list[float]] = defaultdict(list)
    for row in raw:
        t, priority = row["t"], row["priority"]
        assert isinstance(t, int | float) and isinstance(priority, int)
        arrivals[(str(row["model"]), priority)].append(float(t))
    for times in arrivals.values():
        times.sort()
    classes = sorted(arrivals)
    beam: list[_State] = [(0, 0.0, (), tuple(0 for _ in classes))]
    for _ in range(len(raw)):
        best: dict[tuple[frozenset[str], tuple[int, ...]], _State] = {}
        for state in beam:
            for successor in _successors(state, classes, arrivals, capacity, load, service):
                key = (frozenset(successor[2]), successor[3])
                if key not in best or successor[:2] < best[key][:2]:
                    best[key] = successor
        beam = sorted(best.values(), key=lambda s: (s[0], s[1]))[:width]
    return beam[0][0], beam[0][1]


def _successors(
    state: _State,
    classes: list[_Class],
    arrivals: dict[_Class, list[float]],
    capacity: int,
    load: float,
    service: float,
) -> list[_State]:
    loads, now, resident, taken = state
    pending = [i for i, c in enumerate(classes) if taken[i] < len(arrivals[c])]
    now = max(now, min(arrivals[classes[i]][taken[i]] for i in pending))
    waiting = [i for i in pending if arrivals[classes[i]][taken[i]] <= now]
    top = min(classes[i][1] for i in waiting)
    choices = [i for i in waiting if classes[i][1] == top]
    if top == 0:  # urgent requests in arrival order
        choices = [min(choices, key=lambda i: arrivals[classes[i]][taken[i]])]
    out: list[_State] = []
    for i in choices:
        model = classes[i][0]
        after = (*taken[:i], taken[i] + 1, *taken[i + 1 :])
        if model in resident:
            order = (*tuple(m for m in resident if m != model), model)
            out.append((loads, now + service, order, after))
        elif len(resident) < capacity:
            out.append((loads + 1, now + load + service, (*resident, model), after))
        else:
            for victim in resident:
                kept = (*tuple(m for m in resident if m != victim), model)
                out.append((loads + 1, now + load + service, kept, after))
    return out
