"""Who is calling: set by authentication for the current request, read by serving to enforce
the caller's maximum priority and allowed models."""

from __future__ import annotations

import contextvars

import msgspec

from multai_core.plugin_api.errors import ModelNotFound, PermissionDenied


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    id: str = "anonymous"  # a name or a digest prefix, never the key
    max_priority: int = 0  # the most urgent priority this caller may ask for
    models: frozenset[str] | None = None  # None: every model
    admin: bool = True  # sees every queued request, not only its own

    def check(self, *, model: str, aliases: tuple[str, ...], priority: int) -> None:
        if priority < self.max_priority:
            raise PermissionDenied(
                f"This API key may use priority {self.max_priority} or higher (less urgent), "
                f"not {priority}.",
                param="priority",
            )
        if not self.may_use(model=model, aliases=aliases):
            raise ModelNotFound.named(model)

    def may_use(self, *, model: str, aliases: tuple[str, ...]) -> bool:
        """A model and all its aliases are allowed when the key names any of them."""
        return self.models is None or bool({model, *aliases} & self.models)


ANONYMOUS = Principal()
_current: contextvars.ContextVar[Principal] = contextvars.ContextVar(
    "multai_principal", default=ANONYMOUS
)


def current() -> Principal:
    return _current.get()


def set_current(principal: Principal) -> None:
    _current.set(principal)
