"""The Serve application: the ingress bound to the engine replicas, and running it on a cluster."""

from __future__ import annotations

import contextlib
import math
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import msgspec
import ray
from ray import serve
from ray._private import ray_constants
from ray.serve.config import AutoscalingConfig, RequestRouterConfig
from ray.serve.request_router import RequestRouter

from multai_core.config import Config, ReplicaGroup, data_dir
from multai_core.ray_serve.ingress import Ingress
from multai_core.ray_serve.replica import EngineReplica
from multai_core.ray_serve.router import ModelAffinityRouter
from multai_core.ray_serve.work import DEFAULT_GROUP, HEAD_NODE

APP_NAME = "multai"
ENGINE = "MultaiEngine"
"""The engine deployment's name; a group's is this, a dash and the group's name."""
LOOPBACK = "127.0.0.1"
HEALTH_CHECK_S = 2.0
"""Also how soon a new replica's engine starts and posts to the board before any request."""
ONE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray's own switch for clusters on one machine: every node on loopback, where Ray would
otherwise bind to this machine's address, found by "connecting" a UDP socket to 8.8.8.8."""
QUIET_RAY = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_USAGE_STATS_REPORT_URL": "http://127.0.0.1:9/",  # the notice: to loopback's discard port
}


@dataclass(frozen=True)
class RayOptions:
    replicas: int = 1
    """Engine replicas (with ``max_replicas``, the fewest autoscaling keeps)."""
    max_replicas: int | None = None
    """Autoscale on queue depth between ``replicas`` and this many."""
    replica_cpus: float = 1.0
    replica_gpus: float = 0.0
    target_queue: int = 4
    """Autoscaling's target of requests in flight (queued or running) per replica."""
    upscale_delay_s: float = 30.0
    """How long the queue must stay above the target before a replica is added (Serve's
    default)."""
    stats_period_s: float = 1.0
    """How often each replica reports its resident models and free memory to the router."""
    router: type[RequestRouter] = ModelAffinityRouter


def application(config: Config, options: RayOptions) -> serve.Application:
    """The ingress bound to the engine replicas: those of ``options`` and each
    ``[[ray.groups]]``'s."""
    ingress = serve.deployment(
        name="MultaiIngress",
        # on the head node, beside Serve's controller and proxy: a worker node that dies takes
        # only engine replicas with it, whose requests the ingress sends elsewhere
        ray_actor_options={"num_cpus": 0, "resources": {HEAD_NODE: 0.001}},
        max_ongoing_requests=_in_flight(config),
    )(Ingress)
    groups = {DEFAULT_GROUP: engines(config, options)} | {
        group.name: engines(config, group_options(options, group), group.name)
        for group in config.ray.groups
    }
    bound: serve.Application = ingress.bind(groups, config)
    return bound


def group_options(options: RayOptions, group: ReplicaGroup) -> RayOptions:
    return replace(
        options,
        replicas=group.replicas,
        max_replicas=group.max_replicas,
        replica_cpus=group.cpus,
        replica_gpus=group.gpus,
    )


def engines(config: Config, options: RayOptions, group: str = DEFAULT_GROUP) -> serve.Application:
    """The engine replicas of one group, which the ingress relays to (each ``run`` streams one
    job)."""
    autoscaling = None
    if options.max_replicas is not None and options.max_replicas > options.replicas:
        autoscaling = AutoscalingConfig(
            min_replicas=options.replicas,
            max_replicas=options.max_replicas,
            target_ongoing_requests=options.target_queue,
            upscale_delay_s=options.upscale_delay_s,
        )
    engine = serve.deployment(
        name=f"{ENGINE}-{group}" if group else ENGINE,
        num_replicas=None if autoscaling is not None else options.replicas,
        autoscaling_config=autoscaling,
        ray_actor_options={"num_cpus": options.replica_cpus, "num_gpus": options.replica_gpus},
        max_ongoing_requests=_in_flight(config),
        health_check_period_s=HEALTH_CHECK_S,
        request_router_config=RequestRouterConfig(  # pydantic: mypy sees another signature
            request_router_class=options.router,  # type: ignore[arg-type]
            request_routing_stats_period_s=options.stats_period_s,  # type: ignore[arg-type]
        ),
    )(EngineReplica)
    bound: serve.Application = engine.bind(replica_config(config, options))
    return bound


def replica_config(config: Config, options: RayOptions) -> Config:
    """The config each replica's engine runs: unless the operator set ``[memory]
    cpu_threads``, a model uses as many threads as the CPUs Ray reserved for its replica (at
    least one, as Ray's own OMP_NUM_THREADS), not every core of a node it may share."""
    if config.memory.cpu_threads:
        return config
    threads = max(1, math.floor(options.replica_cpus))
    memory = msgspec.structs.replace(config.memory, cpu_threads=threads)
    return msgspec.structs.replace(config, memory=memory)


def _in_flight(config: Config) -> int:
    return max(1, config.scheduler.max_queue)  # the replica's own queue holds the waiting


@contextlib.contextmanager
def not_a_cloud(folder: str) -> Iterator[None]:
    """HOME, for the cluster processes started within, is ``folder`` with the file that tells
    Ray's API server this is no cloud: without it, that server asks the cloud metadata
    addresses (169.254.169.254, metadata.google.internal) which provider it runs on, whatever
    the usage-stats switches say. It reads the file once, at its start."""
    Path(folder, "ray_bootstrap_config.yaml").write_text("provider:\n  type: local\n")
    before = os.environ.get("HOME")
    os.environ["HOME"] = folder
    try:
        yield
    finally:
        if before is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = before


def _cluster_token(folder: Path) -> Path:
    """A token for a local cluster's token authentication (as `ray get-auth-token
    --generate` makes one), kept beside the bootstrap file."""
    token = folder / "auth_token"
    if not token.exists():
        token.touch(mode=0o600)
        token.write_text(secrets.token_hex(32))
    return token


def on_loopback() -> None:
    """Clusters this process starts from now on keep to loopback."""
    os.environ[ONE_MACHINE] = "0"  # for the cluster's processes
    ray_constants.ENABLE_RAY_CLUSTER = False  # for this one, which read it on import


def start_serve(host: str, port: int) -> None:
    """Serve's HTTP proxy on the head node only, where the ingress runs: clients name the head
    node, and a worker node that dies drops no connection."""
    serve.start(proxy_location="HeadOnly", http_options={"host": host, "port": port})


def run(config: Config, options: RayOptions, *, address: str | None, host: str, port: int) -> None:
    """Deploy on the cluster at ``address`` (None: start a local one) and serve until stopped."""
    # Ray reports usage to its makers unless told not to, and even then sends them a notice
    # that it is off: a cluster this starts is told here; the README says what `ray start`
    # needs for the same
    for name, value in QUIET_RAY.items():
        os.environ.setdefault(name, value)
    if address is not None:
        ray.init(address=address, namespace=APP_NAME)
    else:
        on_loopback()  # a new cluster for this machine alone: none of Ray's ports on the LAN
        # Ray's sockets live in its session folder under TMPDIR, and a socket's path may not
        # pass 107 bytes: a long TMPDIR (a service's private one, a test's) would stop the start
        os.environ.setdefault("RAY_TMPDIR", "/tmp")  # noqa: S108 (Ray's own default)
        home = os.path.expanduser("~")
        folder = data_dir(config.server) / "ray-home"  # kept: Ray reads it after init returns
        folder.mkdir(parents=True, exist_ok=True)
        if "RAY_AUTH_TOKEN_PATH" not in os.environ and "RAY_AUTH_TOKEN" not in os.environ:
            # Ray looks for the cluster's token under HOME; every process, whatever its HOME,
            # finds it here
            os.environ["RAY_AUTH_TOKEN_PATH"] = str(_cluster_token(folder))
        with not_a_cloud(str(folder)):
            # the engine replicas (Ray workers) keep the operator's HOME, for plugins' caches
            ray.init(namespace=APP_NAME, runtime_env={"env_vars": {"HOME": home}})
    start_serve(host, port)
    serve.run(application(config, options), name=APP_NAME, route_prefix="/", blocking=True)
