"""Authentication. It is a hook (multai_authenticate): plugins may identify callers (JWT, OAuth
introspection...); the built-in implementation, run last, checks API keys: Bearer tokens compared
as SHA-256 digests in constant time. The result is a Principal that serving enforces."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import pluggy
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from multai_core.config import ApiKeyEntry
from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import AuthenticationFailed
from multai_core.plugin_api.hookspecs import hookimpl
from multai_core.plugin_api.principal import Principal


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def _entry(item: str | ApiKeyEntry, index: int) -> tuple[bytes, Principal]:
    if isinstance(item, str):
        item = ApiKeyEntry(key=item, admin=True)
    if item.sha256:
        key_digest = bytes.fromhex(item.sha256)
    elif item.key:
        key_digest = digest(item.key)
    else:
        raise ValueError(f"api key entry {index} has neither key nor sha256")
    who = item.name or f"key-{key_digest.hex()[:8]}"
    return key_digest, Principal(
        id=who,
        max_priority=item.max_priority,
        models=frozenset(item.models) if item.models is not None else None,
        admin=item.admin,
    )


class ApiKeyAuth:
    """The built-in multai_authenticate implementation (registered with trylast)."""

    def __init__(self, keys: list[str | ApiKeyEntry], *, open_without_keys: bool) -> None:
        self._keys = [_entry(item, i) for i, item in enumerate(keys)]
        self._open = open_without_keys

    @hookimpl(trylast=True)
    def multai_authenticate(self, authorization: str | None) -> Principal:
        if not self._keys:
            if self._open:
                return principal.ANONYMOUS
            raise AuthenticationFailed("Missing or unrecognised credentials.")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed(
                "Missing API key: send it as 'Authorization: Bearer <key>' (or 'x-api-key: <key>')."
            )
        offered = digest(token.strip())
        # compare against every key so the time taken says nothing about which one matched
        found: Principal | None = None
        for known, who in self._keys:
            if hmac.compare_digest(offered, known):
                found = who
        if found is None:
            raise AuthenticationFailed("Incorrect API key provided.")
        return found


class AuthGuard:
    """Runs the multai_authenticate hook for every guarded request."""

    def __init__(self, pm: pluggy.PluginManager, keys: list[str | ApiKeyEntry]) -> None:
        self.pm = pm
        others = [
            impl
            for impl in pm.hook.multai_authenticate.get_hookimpls()
            if impl.plugin_name != "apikeys"
        ]
        # with an authentication plugin installed, no key configured means no anonymous access
        self.api_keys = ApiKeyAuth(keys, open_without_keys=not others)
        if pm.get_plugin("apikeys") is not None:
            pm.unregister(name="apikeys")
        pm.register(self.api_keys, name="apikeys")

    def authenticate(self, authorization: str | None, headers: Any = None) -> Principal:
        found = self.pm.hook.multai_authenticate(authorization=authorization, headers=headers or {})
        if not isinstance(found, Principal):
            raise AuthenticationFailed("Missing or unrecognised credentials.")
        return found


def authorization(headers: Mapping[str, str]) -> str | None:
    """The Authorization header, or else Anthropic's ``x-api-key`` as the Bearer token it
    means: a key works in either header, and every multai_authenticate implementation reads
    it where it always has."""
    found = headers.get("authorization")
    if found is None and (key := headers.get("x-api-key")):
        return f"Bearer {key}"
    return found


async def require_caller(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """The Litestar guard (a plain function: Litestar deep-copies guards it registers)."""
    guard: AuthGuard = connection.app.state.guard
    caller = guard.authenticate(authorization(connection.headers), connection.headers)
    principal.set_current(caller)
    connection.scope.setdefault("state", {})["principal"] = caller
