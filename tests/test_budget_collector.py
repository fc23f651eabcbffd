"""A decode lease given back by the cyclic garbage collector (a failed job is kept alive by its
exception's traceback until the collector runs) must not deadlock the thread the collector
happened to run on. The collector runs at any allocation, so also inside the decode pool's
``submit``, which holds the pool's non-reentrant lock while it allocates; when a lease's
finalizer submitted the memory trim from there, the event loop froze and every later request
timed out (seen in CI on the Whisper suite after a run of rejected uploads)."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading

import pytest

from multai_core.media.decoding import TRIM_AUDIO_SECONDS, MediaDecoding


class Holder:
    """Stands for a job: it carries the decoded audio and sits in a reference cycle."""

    def __init__(self) -> None:
        self.itself = self


def test_a_lease_freed_by_the_collector_inside_submit_returns_without_deadlock() -> None:
    decoding = MediaDecoding(
        threads=1, max_pixels_in_flight=1_000_000, max_audio_seconds_in_flight=10_000
    )
    seconds = 2 * TRIM_AUDIO_SECONDS  # large enough to ask the decode pool for a trim
    lease = decoding.audio_seconds.reserve(seconds)
    holder = Holder()
    lease.attach(holder, seconds)
    lease.close()
    del holder
    assert decoding.audio_seconds.in_flight == seconds  # the cycle keeps it until collected
    collected = threading.Event()

    def collect_where_submit_would() -> None:
        # the lock ThreadPoolExecutor.submit holds while it allocates its work item
        with decoding.pool._shutdown_lock:
            gc.collect()
        collected.set()

    threading.Thread(target=collect_where_submit_would, daemon=True).start()
    # no cleanup on failure: closing the pool would wait on the deadlocked lock
    assert collected.wait(10), "the collector's thread deadlocked on the pool's lock"
    assert decoding.audio_seconds.in_flight == 0
    decoding.close()


STRESS = f"""
import gc
from multai_core.media.decoding import MediaDecoding
class Holder:
    def __init__(self): self.itself = self
decoding = MediaDecoding(threads=2, max_pixels_in_flight=1, max_audio_seconds_in_flight=1e9)
for _ in range(5_000):
    lease = decoding.audio_seconds.reserve({TRIM_AUDIO_SECONDS})
    lease.attach(Holder(), {TRIM_AUDIO_SECONDS})
    lease.close()
    decoding.pool.submit(int, 1)  # the collector runs inside some of these
gc.collect()
print(decoding.audio_seconds.in_flight)
"""


def test_many_leases_freed_while_submitting_all_return() -> None:
    # in a process of its own: a deadlock there also hangs the interpreter's exit
    try:
        done = subprocess.run(
            [sys.executable, "-c", STRESS], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a thread deadlocked while the collector freed leases")
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == 0
