"""`multai ps`: what a running server holds in memory."""

from __future__ import annotations

import argparse
import sys

from multai_core.cli.remote import api_root, key_headers, local_url, refusal, unreachable
from multai_core.config import Config

ORDER = 20


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ps = sub.add_parser("ps", help="what a running server holds in memory")
    ps.add_argument(
        "--url",
        help="the server's URL, with or without /v1 (default: the config's host and port)",
    )
    ps.set_defaults(handler=_ps)


def _ps(args: argparse.Namespace, config: Config) -> int:
    import httpx

    root = api_root(args.url or local_url(config))
    headers, has_key = key_headers()
    try:
        response = httpx.get(f"{root}/v1/ps", headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        print(unreachable("ps", root, exc), file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"multai: {refusal(root, response, has_key=has_key)}", file=sys.stderr)
        return 1
    print(f"{'MODEL':32} {'PLACEMENT':9} {'DEVICE':8} {'VRAM MiB':>9} {'RAM MiB':>8} {'IDLE s':>7}")
    for m in response.json()["data"]:
        busy = "  (busy)" if m["in_use"] else ""
        print(
            f"{m['id']:32} {m['placement']:9} {m['device']:8} {m['vram_bytes'] / 2**20:9.0f} "
            f"{m['ram_bytes'] / 2**20:8.0f} {m['idle_s']:7.0f}{busy}"
        )
    return 0
