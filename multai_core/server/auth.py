"""API keys: Bearer tokens compared as SHA-256 digests in constant time. A key maps to a
Principal (maximum priority, allowed models, admin) that serving enforces."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from multai_core import principal
from multai_core.config import ApiKeyEntry
from multai_core.errors import AuthenticationFailed
from multai_core.principal import Principal


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


class ApiKeyGuard:
    def __init__(self, keys: list[str | ApiKeyEntry]) -> None:
        self._keys = [_entry(item, i) for i, item in enumerate(keys)]

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def authenticate(self, authorization: str | None) -> Principal:
        if not self._keys:
            return principal.ANONYMOUS
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("Missing API key: send it as 'Authorization: Bearer <key>'.")
        offered = digest(token.strip())
        # compare against every key so the time taken says nothing about which one matched
        found: Principal | None = None
        for known, who in self._keys:
            if hmac.compare_digest(offered, known):
                found = who
        if found is None:
            raise AuthenticationFailed("Incorrect API key provided.")
        return found

    async def __call__(
        self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        caller = self.authenticate(connection.headers.get("authorization"))
        principal.set_current(caller)
        connection.scope.setdefault("state", {})["principal"] = caller
