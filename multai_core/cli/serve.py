"""`multai serve`: start the OpenAI-compatible server."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from multai_core.cli.remote import url_of
from multai_core.config import Config

ORDER = 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="start the OpenAI-compatible server")
    serve.add_argument("--host", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--config", dest="serve_config", help="TOML config file")
    serve.add_argument(
        "--allow-insecure-public",
        dest="allow_insecure",
        action="store_true",
        help="allow a non-loopback bind address without API keys",
    )
    ray = serve.add_argument_group(
        "Ray Serve", 'several machines (needs `pip install "multai-core[ray]"`)'
    )
    ray.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="deploy on the Ray cluster at ADDRESS (default: RAY_ADDRESS, a cluster started "
        "on this machine with `ray start`, else a new local one)",
    )
    ray.add_argument("--replicas", type=int, default=1, help="engine replicas (default 1)")
    ray.add_argument(
        "--max-replicas",
        type=int,
        help="autoscale the engine replicas on queue depth, from --replicas up to this many",
    )
    ray.add_argument(
        "--replica-cpus", type=float, default=1.0, help="CPUs each replica takes (default 1)"
    )
    ray.add_argument(
        "--replica-gpus", type=float, default=0.0, help="GPUs each replica takes (default 0)"
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace, config: Config) -> int:
    import structlog

    from multai_core.server import runner
    from multai_core.server.app import create_app
    from multai_core.server.logging import configure_logging

    host = args.host or config.server.host
    port = args.port if args.port is not None else config.server.port
    config.server.host, config.server.port = host, port
    if not _is_loopback(host) and not config.server.api_keys and not args.allow_insecure:
        print(
            f"refusing to listen on {host} without API keys: set MULTAI_API_KEYS or "
            "[server].api_keys, or pass --allow-insecure-public",
            file=sys.stderr,
        )
        return 2
    if args.ray is not None:
        return _serve_on_ray(args, config, host, port)
    configure_logging(config.server.log_level, config.server.log_format)
    app = create_app(config)
    structlog.get_logger("multai_core.cli").info(
        "serving",
        url=url_of(host, port, tls=bool(config.server.tls_certfile)),
        models=[
            {"id": spec.name, "aliases": list(spec.aliases), "backend": spec.backend}
            for spec in app.state.services.registry.models.values()
        ],
    )
    runner.run(
        app,
        host=host,
        port=port,
        certfile=config.server.tls_certfile,
        keyfile=config.server.tls_keyfile,
    )
    return 0


def _serve_on_ray(args: argparse.Namespace, config: Config, host: str, port: int) -> int:
    if args.replicas < 1 or (args.max_replicas is not None and args.max_replicas < args.replicas):
        print(
            "--replicas must be at least 1, and --max-replicas at least --replicas", file=sys.stderr
        )
        return 2
    try:
        from multai_core.ray_serve.deploy import RayOptions, run
    except ImportError as exc:
        print(
            f'multai serve --ray needs Ray Serve ({exc}): pip install "multai-core[ray]"',
            file=sys.stderr,
        )
        return 2
    from multai_core.server.logging import configure_logging

    configure_logging(config.server.log_level, config.server.log_format)
    options = RayOptions(
        replicas=args.replicas,
        max_replicas=args.max_replicas,
        replica_cpus=args.replica_cpus,
        replica_gpus=args.replica_gpus,
    )
    run(config, options, address=args.ray or None, host=host, port=port)
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
