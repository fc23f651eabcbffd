"""The `multai` command: serve, models, plugins, ps."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import TYPE_CHECKING

from multai_core.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    import httpx


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
    configure_logging(config.server.log_level, config.server.log_format)
    app = create_app(config)
    structlog.get_logger("multai_core.cli").info(
        "serving",
        url=_url(host, port, tls=bool(config.server.tls_certfile)),
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


def _url(host: str, port: int, *, tls: bool) -> str:
    scheme = "https" if tls else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _models(_: argparse.Namespace, config: Config) -> int:
    from multai_core.engine.memory import MemoryManager
    from multai_core.engine.packs import Packs
    from multai_core.plugins import make_plugin_manager
    from multai_core.registry import Registry

    packs = Packs(make_plugin_manager())
    registry = Registry(packs.backends, config.models)
    memory = MemoryManager(packs, config.memory)
    if not registry.models:
        print(
            "no models: install a plugin (e.g. multai-llamacpp[default-model])"
            " or configure [[models]]"
        )
        return 0
    print(f"{'MODEL':32} {'BACKEND':12} {'ESTIMATE':>10}  {'PLACEMENT':24} ALIASES")
    for spec in registry.models.values():
        try:
            estimate, placement = memory.plan(spec)
            size = f"{estimate.cpu_bytes / 2**20:.0f} MiB"
            where = (
                "does not fit" if placement is None else f"{placement.kind} ({placement.device})"
            )
        except Exception as exc:
            size, where = "?", f"estimate failed: {type(exc).__name__}"
        aliases = ", ".join(spec.aliases) or "-"
        print(f"{spec.name:32} {spec.backend:12} {size:>10}  {where:24} {aliases}")
    return 0


def _plugins(_: argparse.Namespace, __: Config) -> int:
    from multai_core.engine.packs import Packs
    from multai_core.plugins import make_plugin_manager, plugin_list

    pm = make_plugin_manager()
    backends = Packs(pm).backends
    for plugin in plugin_list(pm):
        print(
            f"{plugin['name']}: {plugin['distribution'] or '-'} {plugin['version'] or ''}".rstrip()
        )
    for backend in backends:
        print(f"  backend {backend.name}: {', '.join(sorted(backend.tasks))}")
    return 0


def _ps(args: argparse.Namespace, config: Config) -> int:
    import os

    import httpx

    root = _api_root(args.url or _local_url(config))
    key = os.environ.get("MULTAI_API_KEY", "")
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(f"{root}/v1/ps", headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        print(
            f"multai: cannot reach {root}: {exc or type(exc).__name__} (is `multai serve` "
            "running there? --url names another server)",
            file=sys.stderr,
        )
        return 1
    if response.status_code != 200:
        print(f"multai: {_refusal(root, response, has_key=bool(key))}", file=sys.stderr)
        return 1
    print(f"{'MODEL':32} {'PLACEMENT':9} {'DEVICE':8} {'VRAM MiB':>9} {'RAM MiB':>8} {'IDLE s':>7}")
    for m in response.json()["data"]:
        busy = "  (busy)" if m["in_use"] else ""
        print(
            f"{m['id']:32} {m['placement']:9} {m['device']:8} {m['vram_bytes'] / 2**20:9.0f} "
            f"{m['ram_bytes'] / 2**20:8.0f} {m['idle_s']:7.0f}{busy}"
        )
    return 0


def _local_url(config: Config) -> str:
    """The configured server as a client on this machine reaches it."""
    host = config.server.host
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a wildcard bind: connect to loopback
        host = "::1" if host == "::" else "127.0.0.1"
    return _url(host, config.server.port, tls=bool(config.server.tls_certfile))


def _api_root(url: str) -> str:
    """The server's root from its URL or from the SDK's base_url (which ends in /v1)."""
    root = url.strip().rstrip("/")
    return root.removesuffix("/v1").rstrip("/")


def _refusal(root: str, response: httpx.Response, *, has_key: bool) -> str:
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = response.text.strip()[:200] or response.reason_phrase
    if response.status_code == 401 and not has_key:
        return (
            f"the server at {root} wants an API key: set MULTAI_API_KEY to one of its keys. "
            f"The server said: {message}"
        )
    if response.status_code == 401:
        return f"the server at {root} refused the key in MULTAI_API_KEY: {message}"
    return f"{response.status_code} from {root}: {message}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multai", description="MultAI inference server")
    parser.add_argument("--config", help="TOML config file (default: $MULTAI_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
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
    serve.set_defaults(handler=_serve)
    models = sub.add_parser("models", help="list models, their estimates and placement now")
    models.set_defaults(handler=_models)
    plugins = sub.add_parser("plugins", help="list installed plugins and their backends")
    plugins.set_defaults(handler=_plugins)
    ps = sub.add_parser("ps", help="what a running server holds in memory")
    ps.add_argument(
        "--url",
        help="the server's URL, with or without /v1 (default: the config's host and port)",
    )
    ps.set_defaults(handler=_ps)
    args = parser.parse_args(argv)
    try:
        config = load_config(getattr(args, "serve_config", None) or args.config)
        return int(args.handler(args, config))
    except ConfigError as exc:
        print(f"multai: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
