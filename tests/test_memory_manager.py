"""Loading, eviction of the least recently used idle model, pinning and keep_alive."""

from __future__ import annotations

import threading
import time

import pytest

from multai_core.config import MemoryConfig
from multai_core.engine.memory import MemoryManager
from multai_core.engine.packs import Packs
from multai_core.plugin_api.errors import InsufficientMemory, ServiceUnavailable
from multai_core.plugin_api.types import DeviceSnapshot, ModelSpec
from multai_core.plugins import make_plugin_manager
from tests.echo_plugin import EchoPlugin

MiB = 2**20


def manager(plugin: EchoPlugin, budget: int) -> MemoryManager:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(plugin)
    snapshot = DeviceSnapshot(ram_total_bytes=10_000 * MiB, ram_free_bytes=10_000 * MiB)
    return MemoryManager(
        Packs(pm), MemoryConfig(ram_reserve_bytes=0, ram_budget_bytes=budget), lambda: snapshot
    )


def spec(name: str, mib: int, options: dict[str, object] | None = None, **kw: object) -> ModelSpec:
    return ModelSpec(
        name=name,
        backend="echo",
        options={"bytes": mib * MiB} | (options or {}),
        **kw,  # type: ignore[arg-type]
    )


def test_two_fit_side_by_side_and_lru_is_evicted() -> None:
    plugin = EchoPlugin()
    memory = manager(plugin, budget=250 * MiB)
    a, b, c = spec("a", 100), spec("b", 100), spec("c", 100)
    memory.release(memory.acquire(a))
    memory.release(memory.acquire(b))
    assert set(memory.resident) == {"a", "b"}
    memory.release(memory.acquire(a))  # a is now the most recently used
    memory.release(memory.acquire(c))
    assert set(memory.resident) == {"a", "c"}
    assert plugin.unloads == ["b"]


def test_a_model_with_requests_waiting_is_evicted_last() -> None:
    plugin = EchoPlugin()
    memory = manager(plugin, budget=250 * MiB)
    memory.release(memory.acquire(spec("awaited", 100)))
    memory.release(memory.acquire(spec("done", 100)))
    memory.waiting_for = lambda name: 3 if name == "awaited" else 0
    memory.release(memory.acquire(spec("new", 100)))
    assert plugin.unloads == ["done"]  # though "awaited" was used longer ago
    memory.waiting_for = lambda name: 1  # every model awaited: least recently used again
    memory.release(memory.acquire(spec("newer", 100)))
    assert plugin.unloads == ["done", "awaited"]


def test_in_use_and_pinned_models_are_never_evicted() -> None:
    plugin = EchoPlugin()
    memory = manager(plugin, budget=250 * MiB)
    busy = memory.acquire(spec("busy", 100))
    memory.release(memory.acquire(spec("pinned", 100, pinned=True)))
    with pytest.raises(InsufficientMemory) as info:
        memory.acquire(spec("third", 100))
    assert "needs" in info.value.message
    memory.release(busy)
    memory.release(memory.acquire(spec("third", 100)))
    assert set(memory.resident) == {"pinned", "third"}


def test_keep_alive() -> None:
    plugin = EchoPlugin()
    memory = manager(plugin, budget=1000 * MiB)
    memory.release(memory.acquire(spec("short", 10, keep_alive=0.0)))
    memory.release(memory.acquire(spec("forever", 10, keep_alive=-1.0)))
    memory.release(memory.acquire(spec("default", 10)))
    assert memory.unload_idle() == ["short"]
    assert set(memory.resident) == {"forever", "default"}


def test_a_resident_model_serves_while_another_loads() -> None:
    """The load runs outside the manager's lock: acquiring a resident model does not wait for
    it, and a second caller wanting the loading model waits for that one load."""
    plugin = EchoPlugin()
    memory = manager(plugin, budget=1000 * MiB)
    memory.release(memory.acquire(spec("resident", 100)))
    slow = spec("slow", 100, options={"load_seconds": 2.0})
    results: list[object] = []
    loaders = [threading.Thread(target=lambda: results.append(memory.acquire(slow))) for _ in "ab"]
    for thread in loaders:
        thread.start()
    time.sleep(0.2)
    memory.release(memory.acquire(spec("resident", 100)))
    # served while the load was still running, not after it
    assert "slow" not in memory.resident and all(thread.is_alive() for thread in loaders)
    for thread in loaders:
        thread.join()
    assert [name for name, _ in plugin.loads].count("slow") == 1
    assert memory.resident["slow"].in_use == 2


def test_a_model_defined_anew_replaces_its_loaded_copy_once_idle() -> None:
    plugin = EchoPlugin()
    memory = manager(plugin, budget=1000 * MiB)
    old, new = (
        spec("m", 100, path="/models/m/rev1.gguf"),
        spec("m", 100, path="/models/m/rev2.gguf"),
    )
    running = memory.acquire(old)
    during = memory.acquire(new)  # a request in flight holds the old copy: it goes on serving
    assert during is running and plugin.unloads == []
    memory.release(during)
    memory.release(running)
    memory.release(memory.acquire(spec("m", 100, path="/models/m/rev1.gguf", aliases=("x",))))
    assert plugin.unloads == []  # an equal definition, under any aliases, is the same model
    now = memory.acquire(new)
    assert now.spec == new and plugin.unloads == ["m"]
    assert [name for name, _ in plugin.loads] == ["m", "m"]
    memory.release(now)


def test_a_deleted_model_is_unloaded_once_no_request_uses_it() -> None:
    plugin = EchoPlugin()
    memory = manager(plugin, budget=1000 * MiB)
    running = memory.acquire(spec("gone", 100))
    assert not memory.unload_when_idle("gone", reason="deleted")
    memory.release(running)
    memory.busy = lambda name: name == "gone"  # a job of it has started: about to be used
    assert not memory.unload_when_idle("gone", reason="deleted")
    memory.busy = lambda _: False
    assert memory.unload_when_idle("gone", reason="deleted")
    assert plugin.unloads == ["gone"] and memory.resident == {}
    assert memory.unload_when_idle("gone", reason="deleted")  # not loaded: nothing to wait for


def test_a_model_that_failed_to_load_fails_fast_and_evicts_nothing_more() -> None:
    plugin = EchoPlugin()
    memory = manager(plugin, budget=250 * MiB)
    memory.release(memory.acquire(spec("a", 100)))
    memory.release(memory.acquire(spec("b", 100)))
    broken = spec("broken", 100, options={"fail_load": True})
    with pytest.raises(ServiceUnavailable) as first:
        memory.acquire(broken)
    assert plugin.unloads == ["a"]  # made room once
    memory.release(memory.acquire(spec("a", 100)))  # back beside b: the budget is full
    with pytest.raises(ServiceUnavailable) as again:
        memory.acquire(broken)
    assert again.value.message == first.value.message
    assert plugin.unloads == ["a"]  # the retry evicted nothing
    assert set(memory.resident) == {"a", "b"}


def test_the_placement_a_load_would_get_counts_its_evictions() -> None:
    plugin = EchoPlugin()
    memory = manager(plugin, budget=250 * MiB)
    memory.release(memory.acquire(spec("a", 200)))
    assert memory.plan(spec("b", 200))[1] is None  # does not fit in what is free
    placement = memory.placement_after_evictions(spec("b", 200))
    assert placement is not None and placement.device == "cpu"
    memory.busy = lambda name: name == "a"  # a job of "a" has started: it stays
    assert memory.placement_after_evictions(spec("b", 200)) is None


def test_a_failed_load_says_why_in_the_503_and_in_the_log() -> None:
    from structlog.testing import capture_logs

    memory = manager(EchoPlugin(), budget=250 * MiB)
    broken = spec("broken", 10, options={"fail_load": True}, path="/models/broken.bin")
    with capture_logs() as logs, pytest.raises(ServiceUnavailable) as info:
        memory.acquire(broken)
    assert info.value.code == "model_unavailable"
    assert "/models/broken.bin" in info.value.message
    assert "RuntimeError: weights are corrupt" in info.value.message
    (line,) = [e for e in logs if e["event"] == "model_load_failed"]
    assert line["path"] == "/models/broken.bin"
    assert line["error"] == "RuntimeError: weights are corrupt"


def test_a_model_whose_files_cannot_be_read_is_503_not_500() -> None:
    memory = manager(EchoPlugin(), budget=250 * MiB)
    unreadable = ModelSpec(
        name="unreadable", backend="echo", path="/models/gone.bin", options={"bytes": "?"}
    )  # the echo estimate fails on it as a pack's does on a missing file
    with pytest.raises(ServiceUnavailable) as info:
        memory.acquire(unreadable)
    assert info.value.code == "model_unavailable"
    assert "its files could not be read (path /models/gone.bin): ValueError" in info.value.message
    assert not memory.resident


def test_a_model_is_given_the_configured_cpu_threads() -> None:
    plugin = EchoPlugin()
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(plugin)
    snapshot = DeviceSnapshot(ram_total_bytes=10_000 * MiB, ram_free_bytes=10_000 * MiB)
    config = MemoryConfig(ram_reserve_bytes=0, cpu_threads=3)
    memory = MemoryManager(Packs(pm), config, lambda: snapshot)
    memory.release(memory.acquire(spec("a", 100)))
    assert [(name, p.kind, p.cpu_threads) for name, p in plugin.loads] == [("a", "cpu", 3)]
