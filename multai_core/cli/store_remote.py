"""`multai pull --url` and `multai rm --url`: a pull or a removal done by a running server (its
`POST /v1/models/pull` and `DELETE /v1/models/{id}`, with the admin key in MULTAI_API_KEY), so
that it serves the model at once; under Ray Serve, on every node of the cluster."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from multai_core.cli.remote import key_headers, refusal, unreachable

if TYPE_CHECKING:
    import httpx

DOWNLOAD_QUIET_S = 600.0
"""Longest wait for the server's next event: a node's hub may be slow to answer."""


def pull_through(root: str, body: dict[str, Any]) -> int:
    """Ask the server at ``root`` to pull; print its progress lines, then the outcome."""
    import httpx

    headers, has_key = key_headers()
    timeout = httpx.Timeout(30.0, read=DOWNLOAD_QUIET_S)
    try:
        with httpx.stream(
            "POST", f"{root}/v1/models/pull", json=body, headers=headers, timeout=timeout
        ) as response:
            if response.status_code != 200:
                response.read()
                print(f"multai pull: {refusal(root, response, has_key=has_key)}", file=sys.stderr)
                return 1
            return _follow(response)
    except httpx.HTTPError as exc:
        return _unreachable("pull", root, exc)


def rm_through(root: str, name: str) -> int:
    import httpx

    headers, has_key = key_headers()
    try:
        response = httpx.delete(f"{root}/v1/models/{name}", headers=headers, timeout=120)
    except httpx.HTTPError as exc:
        return _unreachable("rm", root, exc)
    if response.status_code != 200:
        print(f"multai rm: {refusal(root, response, has_key=has_key)}", file=sys.stderr)
        return 1
    print(f"removed {name}: the server at {root} no longer serves it")
    return 0


def _follow(response: httpx.Response) -> int:
    code: int | None = None
    for line in response.iter_lines():
        if not line.startswith("data: {"):
            continue
        event = json.loads(line.removeprefix("data: "))
        if event["status"] == "progress":
            print(event["message"], flush=True)
        elif event["status"] == "done":
            model = event["model"]
            served = "serves it" if model["served"] else "does not serve it (see its log)"
            print(f"pulled {model['id']}: the server {served} as {model['id']!r}")
            for node, outcome in model.get("nodes", {}).items():
                print(f"  node {node}: {outcome}")
            failed = [o for o in model.get("nodes", {}).values() if o.startswith("failed")]
            code = 1 if failed else 0
        else:
            print(f"multai pull: {event['error']['message']}", file=sys.stderr)
            code = 1
    if code is None:
        print("multai pull: the server ended the pull without a result", file=sys.stderr)
        return 1
    return code


def _unreachable(command: str, root: str, exc: Exception) -> int:
    print(unreachable(command, root, exc), file=sys.stderr)
    return 1
