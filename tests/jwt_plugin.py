"""A test authentication plugin: RS256 JSON Web Tokens (PyJWT) whose claims carry the caller's
maximum priority and allowed models. Shows that authentication is pluggable."""

from __future__ import annotations

from typing import Any

import jwt

from multai_core.plugin_api.errors import AuthenticationFailed
from multai_core.plugin_api.hookspecs import hookimpl
from multai_core.plugin_api.principal import Principal


class JwtAuth:
    def __init__(self, public_key: Any, audience: str = "multai") -> None:
        self.public_key = public_key
        self.audience = audience

    @hookimpl
    def multai_authenticate(self, authorization: str | None) -> Principal | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or token.count(".") != 2:
            return None  # not a JWT: leave it to the API keys
        try:
            claims = jwt.decode(
                token, self.public_key, algorithms=["RS256"], audience=self.audience
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"Invalid token: {type(exc).__name__}.") from None
        models = claims.get("models")
        return Principal(
            id=f"jwt:{claims['sub']}",
            max_priority=int(claims.get("max_priority", 1)),
            models=frozenset(models) if models is not None else None,
            admin=bool(claims.get("admin", False)),
        )
