"""The whole plugin contract. Every hook takes keyword arguments only."""

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("multai")
hookimpl = pluggy.HookimplMarker("multai")


@hookspec
def multai_register_backends(register: Any) -> None:
    """Call ``register(backend)`` once for each :class:`multai_core.types.Backend` this plugin
    provides: its name, the task kinds it serves, its options Struct and the default model
    specs that work with no configuration (for example a model shipped in a pip package)."""


@hookspec(firstresult=True)
def multai_estimate_memory(spec: Any, devices: Any) -> Any:
    """Return a :class:`multai_core.types.MemoryEstimate` for ``spec`` (a ModelSpec) if this
    plugin owns ``spec.backend``, else None. ``devices`` is the current DeviceSnapshot. Must be
    cheap and pure: read file headers, never weights, never import torch or the runtime."""


@hookspec(firstresult=True)
def multai_load(spec: Any, placement: Any) -> Any:
    """Load ``spec`` with the given :class:`multai_core.types.Placement` and return a handle
    (any object this plugin recognises later), or None if this plugin does not own
    ``spec.backend``. Heavy imports belong here. Raise to report a failed load."""


@hookspec
def multai_unload(handle: Any) -> None:
    """Free everything ``handle`` holds if it is one of this plugin's handles; ignore others."""


@hookspec(firstresult=True)
def multai_infer(handle: Any, task: Any, cancel: Any) -> Any:
    """Run ``task`` (a :class:`multai_core.types.Task`) on ``handle`` if the handle is this
    plugin's, else return None. Return a result object, or an iterator of chunks for
    generative tasks (see :mod:`multai_core.results`). ``cancel`` is a threading.Event: stop at
    the next token or step once it is set. Raise :class:`multai_core.errors.InvalidRequest` for
    input the model cannot take (the client gets a 400)."""


@hookspec(firstresult=True)
def multai_authenticate(authorization: Any, headers: Any) -> Any:
    """Identify the caller of a request from its ``authorization`` header value (str or None)
    and ``headers`` (a case-insensitive mapping). Return a :class:`multai_core.principal.Principal`
    (its maximum priority, allowed models, admin flag), return None to leave the request to the
    next implementation, or raise :class:`multai_core.errors.AuthenticationFailed` (401). The
    built-in API-key check runs last."""
