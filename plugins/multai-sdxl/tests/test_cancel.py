"""A client that goes away cancels its generation between denoising steps: the worker is free
again at once instead of finishing minutes of work nobody will read."""

from __future__ import annotations

import time

import httpx
import pytest
from openai import OpenAI
from sdxl_testing import Server


def test_disconnect_cancels_between_steps(server: Server, client: OpenAI) -> None:
    # about 0.3 s per step here: a thousand steps would hold the worker for minutes
    slow = {"model": "tiny-sdxl", "prompt": "a mug", "size": "128x128", "num_inference_steps": 1000}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{server.base_url}/v1/images/generations",
            json=slow,
            headers={"x-request-id": "cancel-me-1"},
            timeout=httpx.Timeout(connect=5, read=3, write=5, pool=5),
        )
    started = time.monotonic()
    quick = client.images.generate(model="tiny-sdxl", prompt="a mug", size="64x64")
    assert len(quick.data or []) == 1
    assert time.monotonic() - started < 30

    deadline = time.monotonic() + 10
    finished: list[dict[str, object]] = []
    while not finished and time.monotonic() < deadline:
        finished = [
            line
            for line in server.log_lines()
            if line.get("event") == "inference_finished" and line.get("request_id") == "cancel-me-1"
        ]
        time.sleep(0.1)
    assert finished, "the cancelled request never finished"
    assert finished[0]["outcome"] == "cancelled"
    assert float(finished[0]["seconds"]) < 20  # type: ignore[arg-type]
