"""The app's media decoding: one bounded thread pool, off the event loop, and the server-wide
budgets of decoded image pixels and audio seconds in flight (one of each per app)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from multai_core.media.budget import BudgetTerms, DecodeBudget
from multai_core.media.give_back import give_back_memory

P = ParamSpec("P")
T = TypeVar("T")

PIXELS = BudgetTerms("decoded image pixels", "pixels", "max_decode_pixels_in_flight")
AUDIO_SECONDS = BudgetTerms("seconds of decoded audio", "seconds", "max_audio_seconds_in_flight")
# below these, what is freed is too little to be worth a walk over the heaps
TRIM_PIXELS = 4_000_000  # about 12 MB as RGB
TRIM_AUDIO_SECONDS = 120.0  # about 12 MB of 16 kHz samples


class MediaDecoding:
    def __init__(
        self, *, threads: int, max_pixels_in_flight: int, max_audio_seconds_in_flight: float
    ) -> None:
        self.pool = ThreadPoolExecutor(
            max_workers=max(1, threads), thread_name_prefix="multai-decode"
        )
        self.pixels = DecodeBudget(max_pixels_in_flight, PIXELS, self._released(TRIM_PIXELS))
        self.audio_seconds = DecodeBudget(
            max_audio_seconds_in_flight, AUDIO_SECONDS, self._released(TRIM_AUDIO_SECONDS)
        )

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn`` in the decode pool (at most ``decode_threads`` at once)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    async def decode(self, fn: Callable[[], T], *, pixels: int = 0) -> T:
        """``fn`` in the pool; after a large image, the decoder's scratch memory goes back to
        the system (the decoded result stays, under its lease)."""

        def work() -> T:
            try:
                return fn()
            finally:
                if pixels >= TRIM_PIXELS:
                    give_back_memory()

        return await self.run(work)

    def _released(self, threshold: float) -> Callable[[float], None]:
        def trim_if_large(amount: float) -> None:
            if amount >= threshold:
                # a pool that has shut down (RuntimeError) means the process is ending
                with contextlib.suppress(RuntimeError):
                    self.pool.submit(give_back_memory)

        return trim_if_large

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
