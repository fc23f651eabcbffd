"""`multai batches`: the batches of a running server that the key in MULTAI_API_KEY may see."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from multai_core.cli.remote import api_root, key_headers, local_url, refusal
from multai_core.config import Config

if TYPE_CHECKING:
    import httpx

ORDER = 25  # after ps
PAGE = 100  # the most GET /v1/batches gives at once
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


class _Refused(Exception):
    """The server could not be reached or said no: the message says which, in one line."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    batches = sub.add_parser("batches", help="the batches of a running server")
    batches.add_argument(
        "--url",
        help="the server's URL, with or without /v1 (default: the config's host and port)",
    )
    batches.add_argument(
        "--all",
        action="store_true",
        help="ended batches too (completed, failed, expired, cancelled); default: open ones",
    )
    batches.set_defaults(handler=_batches)


def _batches(args: argparse.Namespace, config: Config) -> int:
    import httpx

    root = api_root(args.url or local_url(config))
    headers, has_key = key_headers()
    try:
        with httpx.Client(headers=headers, timeout=10) as client:
            shown = [b for b in _every_batch(client, root, has_key=has_key) if args.all or _open(b)]
    except _Refused as exc:
        print(f"multai: {exc}", file=sys.stderr)
        return 1
    now = time.time()
    print(f"{'ID':34} {'STATUS':11} {'ENDPOINT':20} {'DONE/FAILED/TOTAL':>17}  {'CREATED':20} AGE")
    for batch in shown:
        counts = batch.get("request_counts") or {}
        tally = f"{counts.get('completed', 0)}/{counts.get('failed', 0)}/{counts.get('total', 0)}"
        created = int(batch["created_at"])
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(created))
        print(
            f"{batch['id']:34} {batch['status']:11} {batch['endpoint']:20} {tally:>17}  "
            f"{stamp:20} {_age(now - created)}"
        )
    if not shown:
        print("(none)" if args.all else "(no open batches; --all shows ended ones too)")
    return 0


def _open(batch: dict[str, Any]) -> bool:
    return batch["status"] not in ENDED


def _every_batch(client: httpx.Client, root: str, *, has_key: bool) -> Iterator[dict[str, Any]]:
    """Every batch, newest first, page after page (GET /v1/batches?after=<last id>)."""
    import httpx

    after: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": PAGE}
        if after is not None:
            params["after"] = after
        try:
            response = client.get(f"{root}/v1/batches", params=params)
        except httpx.HTTPError as exc:
            raise _Refused(
                f"cannot reach {root}: {exc or type(exc).__name__} (is `multai serve` running "
                "there? --url names another server)"
            ) from None
        if response.status_code != 200:
            raise _Refused(refusal(root, response, has_key=has_key))
        try:
            page = response.json()
            batches: list[dict[str, Any]] = list(page["data"])
            more = bool(page.get("has_more")) and bool(batches)
            after = str(batches[-1]["id"]) if more else None
        except (ValueError, KeyError, TypeError, IndexError):
            raise _Refused(
                f"{root}/v1/batches did not answer with a list of batches (is it a MultAI "
                "server? --url names another server)"
            ) from None
        yield from batches
        if after is None:
            return


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
