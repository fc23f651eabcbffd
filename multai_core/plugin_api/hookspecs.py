# mypy: disable-error-code="empty-body"
# (hook specifications have no bodies: pluggy calls the implementations)
"""The whole plugin contract. Every hook takes keyword arguments only.

The core calls a pack's ``multai_estimate_memory``, ``multai_load``, ``multai_unload`` and
``multai_infer`` only for models of a backend that pack registered, and only with handles its
own ``multai_load`` returned: no hook needs to check whether a spec or handle is its own."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import pluggy

from multai_core.plugin_api.principal import Principal
from multai_core.plugin_api.results import InferResult
from multai_core.plugin_api.tasks import Task
from multai_core.plugin_api.types import (
    Backend,
    DeviceSnapshot,
    MemoryEstimate,
    ModelSpec,
    Placement,
)

hookspec = pluggy.HookspecMarker("multai")
hookimpl = pluggy.HookimplMarker("multai")


@hookspec
def multai_register_backends(register: Callable[[Backend], None]) -> None:
    """Call ``register(backend)`` once for each :class:`Backend` this pack provides: its name,
    the task kinds it serves, its options Struct and the default model specs that work with no
    configuration (for example a model shipped in a pip package). A pack that registers a
    backend implements ``multai_estimate_memory``, ``multai_load`` and ``multai_infer``."""


@hookspec(firstresult=True)
def multai_estimate_memory(spec: ModelSpec, devices: DeviceSnapshot) -> MemoryEstimate:
    """What ``spec`` needs (:class:`MemoryEstimate`). ``devices`` is the current
    :class:`DeviceSnapshot`. Must be cheap and pure: read file headers, never weights, never
    import torch or the runtime."""


@hookspec(firstresult=True)
def multai_load(spec: ModelSpec, placement: Placement) -> object:
    """Load ``spec`` where :class:`Placement` says and return a handle: any object, handed back
    to this pack's ``multai_infer`` and ``multai_unload``. Heavy imports belong here. Raise to
    report a failed load."""


@hookspec(firstresult=True)
def multai_unload(handle: object) -> None:
    """Free everything ``handle`` holds."""


@hookspec(firstresult=True)
def multai_infer(handle: object, task: Task, cancel: threading.Event) -> InferResult:
    """Run ``task`` on ``handle``. Return the result of the task kind, or an iterator of chunks
    for generative tasks (:mod:`multai_core.plugin_api.results` lists them per kind).
    ``cancel`` is set when the client leaves: stop at the next token or step (a cancelled
    image task returns an :class:`ImageResult` with no images). Raise
    :class:`InvalidRequest` for input the model cannot take (the client gets a 400)."""


@hookspec(firstresult=True)
def multai_authenticate(authorization: str | None, headers: Mapping[str, str]) -> Principal | None:
    """Identify the caller of a request from its ``authorization`` header value and
    ``headers`` (a case-insensitive mapping). Return a :class:`Principal` (its maximum
    priority, allowed models, admin flag), return None to leave the request to the next
    implementation, or raise :class:`AuthenticationFailed` (401). The built-in API-key check
    runs last."""
