"""API keys: Bearer tokens compared as SHA-256 digests in constant time."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from multai_core.errors import AuthenticationFailed


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class ApiKeyGuard:
    def __init__(self, keys: list[str]) -> None:
        self._digests = [digest(k) for k in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def check(self, authorization: str | None) -> None:
        if not self._digests:
            return
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("Missing API key: send it as 'Authorization: Bearer <key>'.")
        offered = digest(token.strip())
        # compare against every key so the time taken says nothing about which one matched
        matched = False
        for known in self._digests:
            matched |= hmac.compare_digest(offered, known)
        if not matched:
            raise AuthenticationFailed("Incorrect API key provided.")

    def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        self.check(connection.headers.get("authorization"))
