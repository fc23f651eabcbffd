"""Reaching a running server from the command line: its URL, and its refusals in words."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from multai_core.config import Config

if TYPE_CHECKING:
    import httpx


def url_of(host: str, port: int, *, tls: bool) -> str:
    scheme = "https" if tls else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def local_url(config: Config) -> str:
    """The configured server as a client on this machine reaches it."""
    host = config.server.host
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a wildcard bind: connect to loopback
        host = "::1" if host == "::" else "127.0.0.1"
    return url_of(host, config.server.port, tls=bool(config.server.tls_certfile))


def api_root(url: str) -> str:
    """The server's root from its URL or from the SDK's base_url (which ends in /v1)."""
    root = url.strip().rstrip("/")
    return root.removesuffix("/v1").rstrip("/")


def key_headers() -> tuple[dict[str, str], bool]:
    """The authorization header for the key in MULTAI_API_KEY (none without one), and whether
    there was a key."""
    key = os.environ.get("MULTAI_API_KEY", "")
    return ({"authorization": f"Bearer {key}"} if key else {}), bool(key)


def refusal(root: str, response: httpx.Response, *, has_key: bool) -> str:
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


def unreachable(command: str, root: str, exc: Exception) -> str:
    return (
        f"multai {command}: cannot reach {root}: {exc or type(exc).__name__} (is `multai "
        "serve` running there? --url names another server)"
    )
