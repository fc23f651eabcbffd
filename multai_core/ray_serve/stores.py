"""Every node's model store, for the ingress's pull and delete (``POST /v1/models/pull``,
``DELETE /v1/models/{id}``): the ingress pulls into its own node's store, then a task pinned to
each other node copies the model there (the same files at the same revision, in a pull worker
process of that node), so that a replica anywhere can load it. All nodes at once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import msgspec
import ray
from ray import ObjectRefGenerator
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from multai_core.store.manifest import ModelStore, PulledModel
from multai_core.store.pull import start_worker


@ray.remote(num_cpus=0, num_returns="streaming")
def _copy_here(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """On one node: the pull worker's JSON lines for a copy (``worker_main``'s mirror)."""
    with start_worker(request, answers=False) as worker:
        assert worker.stdout is not None
        for raw in worker.stdout:
            yield json.loads(raw)


@ray.remote(num_cpus=0)
def _remove_here(models_dir: str, name: str) -> str:
    store = ModelStore(Path(models_dir))
    if store.get(name) is None:
        return "not there"
    store.remove(name)
    return "removed"


class NodeStores:
    """The stores of the cluster's live nodes besides the ingress's own: an
    :class:`~multai_core.store.mirror.OtherStores`."""

    def __init__(self, models_dir: Path) -> None:
        self._models_dir = models_dir

    def copy(self, model: PulledModel, relative: str, say: Callable[[str], None]) -> dict[str, str]:
        request = {
            "mirror": msgspec.to_builtins(model),
            "relative": relative,
            "models_dir": str(self._models_dir),
        }

        def on(node: str, node_id: str) -> str:
            task = _copy_here.options(scheduling_strategy=_pinned(node_id))
            outcome = "failed: the copy stopped without a result"
            lines = cast(ObjectRefGenerator, task.remote(request))
            for ref in lines:
                message = ray.get(ref)
                if "line" in message:
                    say(f"{node}: {message['line']}")
                else:
                    outcome = message.get("copied") or f"failed: {message.get('error')}"
            say(f"{node}: {outcome}")
            return outcome

        return self._on_each(on)

    def remove(self, name: str) -> dict[str, str]:
        def on(_node: str, node_id: str) -> str:
            task = _remove_here.options(scheduling_strategy=_pinned(node_id))
            outcome: str = ray.get(task.remote(str(self._models_dir), name))
            return outcome

        return self._on_each(on)

    def _on_each(self, on: Callable[[str, str], str]) -> dict[str, str]:
        try:
            nodes = other_nodes()
        except ray.exceptions.RayError as exc:  # the head's own store is done by now
            return {"the other nodes": f"failed: {type(exc).__name__}"}
        if not nodes:
            return {}
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            done = {
                node: pool.submit(_failing_as_text, on, node, node_id) for node, node_id in nodes
            }
        return {node: future.result() for node, future in done.items()}


def other_nodes() -> list[tuple[str, str]]:
    """(name, node id) of each live node but this process's: the name is its address and the
    start of its id, which tells apart nodes that share an address."""
    here = ray.get_runtime_context().get_node_id()
    nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    return [
        (f"{node['NodeManagerAddress']} ({node['NodeID'][:8]})", node["NodeID"])
        for node in nodes
        if node["Alive"] and node["NodeID"] != here
    ]


def _pinned(node_id: str) -> NodeAffinitySchedulingStrategy:
    return NodeAffinitySchedulingStrategy(node_id, soft=False)


def _failing_as_text(on: Callable[[str, str], str], node: str, node_id: str) -> str:
    """A node lost midway (or a task that failed) is an outcome of that node, not of the
    request."""
    try:
        return on(node, node_id)
    except ray.exceptions.RayError as exc:
        return f"failed: {type(exc).__name__}"
