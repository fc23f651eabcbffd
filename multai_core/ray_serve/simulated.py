"""A Ray cluster of several nodes simulated on this machine (``ray.cluster_utils.Cluster``), for
tests and benchmarks: every node on loopback, and nothing of Ray reaching for the network."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ray
from ray import serve
from ray.cluster_utils import Cluster

from multai_core.ray_serve.deploy import APP_NAME, QUIET_RAY, not_a_cloud, on_loopback

ONE_CPU_NODE: dict[str, Any] = {"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024}


@contextlib.contextmanager
def simulated_cluster(folder: Path, nodes: int = 2) -> Iterator[Cluster]:
    """``nodes`` one-CPU nodes (the first is the head), this process connected as the driver."""
    os.environ.update(QUIET_RAY)
    on_loopback()
    with not_a_cloud(str(folder)):
        cluster = Cluster(initialize_head=True, head_node_args=ONE_CPU_NODE)
        for _ in range(nodes - 1):
            cluster.add_node(**ONE_CPU_NODE)
    ray.init(address=cluster.address, namespace=APP_NAME)
    try:
        yield cluster
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]
