"""The memory manager: which models are resident, where, and loading/evicting them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import msgspec
import structlog

from multai_core.config import MemoryConfig
from multai_core.engine.devices import probe_devices
from multai_core.engine.metrics import Metrics
from multai_core.engine.packs import PackHooks, Packs
from multai_core.engine.placement import choose_placement, insufficient
from multai_core.plugin_api.errors import MultaiError, ServiceUnavailable, where
from multai_core.plugin_api.types import DeviceSnapshot, MemoryEstimate, ModelSpec, Placement

log = structlog.get_logger(__name__)
MAX_REASON_CHARS = 500  # a plugin's message, cut: enough to name a file and what is wrong


class _Loading:
    """A load in progress: its placement counts as taken; others wanting the model wait."""

    def __init__(self, placement: Placement) -> None:
        self.placement = placement
        self.done = threading.Event()


class LoadedModel:
    def __init__(
        self,
        spec: ModelSpec,
        placement: Placement,
        handle: object,
        hooks: PackHooks,
        load_seconds: float,
    ) -> None:
        self.spec = spec
        self.hooks = hooks
        self.placement = placement
        self.handle = handle
        self.load_seconds = load_seconds
        self.last_used = time.monotonic()
        self.in_use = 0


class MemoryManager:
    """Thread-safe: the scheduler's workers call ensure_loaded from worker threads."""

    def __init__(
        self,
        packs: Packs,
        config: MemoryConfig | None = None,
        probe: Callable[[], DeviceSnapshot] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.packs = packs
        self.metrics = metrics
        self.config = config or MemoryConfig()
        self._probe = probe or (lambda: probe_devices(gpus=self.config.allow_gpu))
        self.resident: dict[str, LoadedModel] = {}
        # set by the scheduler: how many requests wait for a model (eviction spares those),
        # and whether a job of it has started (it is about to be used: never unloaded)
        self.waiting_for: Callable[[str], int] = lambda _: 0
        self.busy: Callable[[str], bool] = lambda _: False
        self._loading: dict[str, _Loading] = {}  # loads in progress, outside the lock
        self._failed: dict[str, tuple[float, str]] = {}  # a failed load: until when, why
        self._lock = threading.RLock()

    def estimate(self, spec: ModelSpec, devices: DeviceSnapshot | None = None) -> MemoryEstimate:
        devices = devices or self._probe()
        estimate = self.packs.of(spec).estimate(spec, devices)
        if not isinstance(estimate, MemoryEstimate):
            estimate = msgspec.convert(estimate, MemoryEstimate)
        return estimate

    def devices(self) -> DeviceSnapshot:
        """The probe, less what the configured budgets already hold for resident models."""
        snap = self._probe()
        with self._lock:
            placements = [m.placement for m in self.resident.values()]
            loading = [load.placement for load in self._loading.values()]
        held_ram = sum(p.ram_bytes for p in placements + loading)
        ram_free = snap.ram_free_bytes - sum(p.ram_bytes for p in loading)
        if self.config.ram_budget_bytes is not None:
            ram_free = min(ram_free, self.config.ram_budget_bytes - held_ram)
        gpus = tuple(
            msgspec.structs.replace(
                gpu,
                free_bytes=max(
                    0,
                    gpu.free_bytes - sum(p.vram_bytes for p in loading if p.gpu_index == gpu.index),
                ),
            )
            for gpu in snap.gpus
        )
        return msgspec.structs.replace(snap, gpus=gpus, ram_free_bytes=max(ram_free, 0))

    def plan(
        self, spec: ModelSpec, gpu_layers: int | None = None
    ) -> tuple[MemoryEstimate, Placement | None]:
        """Where the model would go now, in the memory that is free."""
        devices = self.devices()
        estimate = self.estimate(spec, devices)
        return estimate, self._place(estimate, devices, gpu_layers)

    def placement_after_evictions(self, spec: ModelSpec) -> Placement | None:
        """Where a load of the model would put it now, after the evictions it would make
        (the scheduler needs the device before the load runs)."""
        with self._lock:
            devices = self.devices()
            estimate = self.estimate(spec, devices)
            victims = sorted(self._evictable(exclude=spec.name), key=self._eviction_order)
            while (placement := self._place(estimate, devices, None)) is None and victims:
                devices = _with_freed(devices, victims.pop(0).placement)
            return placement

    def _place(
        self, estimate: MemoryEstimate, devices: DeviceSnapshot, gpu_layers: int | None
    ) -> Placement | None:
        return choose_placement(
            estimate,
            devices,
            gpu_reserve=self.config.gpu_reserve_bytes,
            ram_reserve=self.config.ram_reserve_bytes,
            gpu_layers=gpu_layers,
            cpu_threads=self.config.cpu_threads,
        )

    def acquire(self, spec: ModelSpec, gpu_layers: int | None = None) -> LoadedModel:
        """The loaded model, loading it first if needed, marked in use until release(). The
        load itself runs outside the lock: models already resident go on serving meanwhile."""
        while True:
            with self._lock:
                loaded = self._resident(spec, gpu_layers)
                if loaded is not None:
                    loaded.in_use += 1
                    return loaded
                loading = self._loading.get(spec.name)
                if loading is None:
                    loading = _Loading(self._make_room(spec, gpu_layers))
                    self._loading[spec.name] = loading
                    break
            loading.done.wait()  # another thread loads this model: then look again
        try:
            loaded = self._load(spec, loading.placement)
        except ServiceUnavailable as exc:
            with self._lock:
                self._failed[spec.name] = (time.monotonic() + (exc.retry_after or 0), exc.message)
            raise
        finally:
            with self._lock:
                del self._loading[spec.name]
            loading.done.set()
        with self._lock:
            self.resident[spec.name] = loaded
            self._failed.pop(spec.name, None)
            loaded.in_use += 1
            if self.metrics is not None:
                self._update_resident_metrics()
        return loaded

    def release(self, loaded: LoadedModel) -> None:
        with self._lock:
            loaded.in_use -= 1
            loaded.last_used = time.monotonic()

    def _resident(self, spec: ModelSpec, gpu_layers: int | None) -> LoadedModel | None:
        """The resident model if it serves this request; None if it must be loaded (a
        resident one with other n_gpu_layers is unloaded first)."""
        loaded = self.resident.get(spec.name)
        if loaded is None:
            return None
        if not _same_model(loaded.spec, spec) and not loaded.in_use:
            # pulled again at another revision, or defined anew: the next idle moment
            # switches to it (until then, requests in flight keep the copy they started on)
            self.unload(spec.name, reason="changed")
            return None
        if gpu_layers is None or gpu_layers == loaded.placement.gpu_layers:
            loaded.last_used = time.monotonic()
            return loaded
        self.plan(spec, gpu_layers)  # a request no placement can honour fails first
        if loaded.in_use:
            raise ServiceUnavailable(
                f"Model '{spec.name}' is busy; it cannot be reloaded with "
                f"n_gpu_layers={gpu_layers} now.",
                retry_after=5,
            )
        self.unload(spec.name, reason="reload")
        return None

    def _make_room(self, spec: ModelSpec, gpu_layers: int | None) -> Placement:
        """Where the model goes, after evicting idle models if it does not fit. A model whose
        load failed a moment ago fails again at once, evicting nothing."""
        until, why = self._failed.get(spec.name, (0.0, ""))
        if time.monotonic() < until:
            raise ServiceUnavailable(why, retry_after=max(1.0, until - time.monotonic()))
        try:
            estimate, placement = self.plan(spec, gpu_layers)
            while placement is None and self._evict_one(exclude=spec.name):
                estimate, placement = self.plan(spec, gpu_layers)
        except MultaiError:
            raise
        except Exception as exc:  # the estimate reads the model's files: gone or unreadable
            raise _unavailable(spec, "its files could not be read", exc) from exc
        if placement is None:
            raise insufficient(spec.name, estimate, self.devices())
        return placement

    def _load(self, spec: ModelSpec, placement: Placement) -> LoadedModel:
        started = time.perf_counter()
        try:
            hooks = self.packs.of(spec)
            handle = hooks.load(spec, placement)
        except MultaiError:
            raise
        except Exception as exc:
            raise _unavailable(spec, "it failed to load", exc) from exc
        seconds = time.perf_counter() - started
        loaded = LoadedModel(spec, placement, handle, hooks, seconds)
        if self.metrics is not None:
            self.metrics.loads.labels(spec.name).inc()
            self.metrics.load_seconds.labels(spec.name).observe(seconds)
        log.info(
            "model_loaded",
            model=spec.name,
            placement=placement.kind,
            device=placement.device,
            gpu_layers=placement.gpu_layers,
            seconds=round(seconds, 3),
        )
        return loaded

    def _evictable(self, *, exclude: str) -> list[LoadedModel]:
        return [
            m
            for name, m in self.resident.items()
            if name != exclude and not m.in_use and not m.spec.pinned and not self.busy(name)
        ]

    def _eviction_order(self, model: LoadedModel) -> tuple[bool, float]:
        """The least recently used first, one with no request waiting for it before any with
        (evicting a model with work queued means loading it again)."""
        return self.waiting_for(model.spec.name) > 0, model.last_used

    def _evict_one(self, *, exclude: str) -> bool:
        """Unload the first idle, unpinned model in eviction order; False if there is none."""
        idle = self._evictable(exclude=exclude)
        if not idle:
            return False
        self.unload(min(idle, key=self._eviction_order).spec.name, reason="evicted")
        return True

    def unload(self, name: str, *, reason: str = "requested") -> None:
        with self._lock:
            loaded = self.resident.pop(name, None)
            if loaded is None:
                return
            try:
                loaded.hooks.unload(loaded.handle)
            except Exception as exc:
                log.error("model_unload_failed", model=name, error=type(exc).__name__)
            log.info("model_unloaded", model=name, reason=reason)
            if self.metrics is not None:
                self.metrics.unloads.labels(name, reason).inc()
                self._update_resident_metrics()

    def unload_when_idle(self, name: str, *, reason: str) -> bool:
        """Unload ``name`` unless a request uses it or is about to: False then (ask again)."""
        with self._lock:
            loaded = self.resident.get(name)
            if loaded is not None and (loaded.in_use or self.busy(name)):
                return False
            self.unload(name, reason=reason)
            return True

    def _update_resident_metrics(self) -> None:
        assert self.metrics is not None
        per_device: dict[str, int] = {"cpu": 0}
        for m in self.resident.values():
            per_device["cpu"] += m.placement.ram_bytes
            if m.placement.device != "cpu":
                per_device[m.placement.device] = (
                    per_device.get(m.placement.device, 0) + m.placement.vram_bytes
                )
        self.metrics.resident_bytes.clear()
        for device, size in per_device.items():
            self.metrics.resident_bytes.labels(device).set(size)

    def unload_idle(self, now: float | None = None) -> list[str]:
        """Unload models idle past their keep_alive (negative keep_alive: never)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            expired = [
                name
                for name, m in self.resident.items()
                if not m.in_use
                and not self.busy(name)
                and not m.spec.pinned
                and m.spec.keep_alive >= 0
                and now - m.last_used >= m.spec.keep_alive
            ]
            for name in expired:
                self.unload(name, reason="keep_alive")
            return expired

    def unload_all(self) -> None:
        with self._lock:
            for name in list(self.resident):
                self.unload(name, reason="shutdown")


def _same_model(a: ModelSpec, b: ModelSpec) -> bool:
    """Whether a copy loaded for ``a`` serves ``b``: the names it answers to do not matter (a
    pull that takes an alias over changes another model's)."""
    if a is b:  # the registry's own spec: every request on one machine
        return True
    return msgspec.structs.replace(a, aliases=()) == msgspec.structs.replace(b, aliases=())


def _unavailable(spec: ModelSpec, what: str, exc: Exception) -> ServiceUnavailable:
    """A 503 that says why, and a log line that keeps the reason: a load or estimate sees the
    spec and the model's files, never a request, so its message is safe to show and log."""
    reason = f"{type(exc).__name__}: {str(exc)[:MAX_REASON_CHARS]}"
    log.error("model_load_failed", model=spec.name, path=spec.path, error=reason, where=where(exc))
    return ServiceUnavailable(
        f"Model '{spec.name}' is unavailable: {what} (path {spec.path or '(none)'}): {reason}. "
        "Check its [[models]] entry (path, options) in the server's config.",
        retry_after=30,
    )


def _with_freed(devices: DeviceSnapshot, placement: Placement) -> DeviceSnapshot:
    """The snapshot with a resident model's memory given back."""
    gpus = tuple(
        msgspec.structs.replace(gpu, free_bytes=gpu.free_bytes + placement.vram_bytes)
        if gpu.index == placement.gpu_index
        else gpu
        for gpu in devices.gpus
    )
    return msgspec.structs.replace(
        devices, gpus=gpus, ram_free_bytes=devices.ram_free_bytes + placement.ram_bytes
    )
