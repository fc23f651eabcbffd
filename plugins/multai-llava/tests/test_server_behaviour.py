"""The running server: a client that goes away cancels its generation between tokens, and
prompts, images and answers never reach the log."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from conftest import MODEL, NO_EOS, data_url
from openai import OpenAI

from multai_core.testing.image_host import image_bytes, image_part


def log_events(path: Path) -> list[dict[str, object]]:
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


def finished(path: Path, request_id: str, timeout: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in log_events(path):
            if event.get("event") == "inference_finished" and event.get("request_id") == request_id:
                return event
        time.sleep(0.1)
    raise AssertionError(f"no inference_finished for {request_id}")


def test_disconnect_cancels_generation(server: str, server_log: Path, client: OpenAI) -> None:
    # the model is loaded first, so the timing below is generation only
    client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=1
    )
    body = {
        "model": MODEL,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Go."},
                    image_part(data_url(image_bytes((5, 5, 5)))),
                ],
            }
        ],
        "max_tokens": 1900,  # about 4 s of tokens on one core, if nothing stopped it
        "logit_bias": NO_EOS,
        "stream": True,
    }
    started = time.monotonic()
    with httpx.stream(
        "POST",
        f"{server}/v1/chat/completions",
        json=body,
        headers={"x-request-id": "gone-early-1"},
        timeout=60,
    ) as response:
        assert response.status_code == 200
        for n, _ in enumerate(response.iter_lines()):
            if n >= 4:
                break
    event = finished(server_log, "gone-early-1")
    assert event["outcome"] == "cancelled"
    assert float(event["seconds"]) < 2.0  # type: ignore[arg-type]
    assert time.monotonic() - started < 10
    # the server goes on serving
    assert client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=1
    ).choices


def test_content_never_reaches_the_log(server: str, server_log: Path, client: OpenAI) -> None:
    secret = "SERIAL-4471-hairline-crack"
    image = data_url(image_bytes((9, 99, 199)))
    response = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": [{"type": "text", "text": secret}, image_part(image)]}
        ],
        max_tokens=12,
        temperature=0,
        logit_bias=NO_EOS,
    )
    answer = response.choices[0].message.content or ""
    bad = httpx.post(
        f"{server}/v1/chat/completions",
        json={
            "model": MODEL,
            "messages": [{"role": "user", "content": [image_part(data_url(secret.encode()))]}],
        },
    )
    assert bad.status_code == 400
    assert secret not in bad.text
    httpx.post(
        f"{server}/v1/vision",
        json={"model": MODEL, "prompt": secret, "image": image[22:], "max_tokens": 2},
    )
    log = server_log.read_text(encoding="utf-8", errors="replace")
    assert secret not in log
    assert image[22:80] not in log
    if len(answer) >= 6:
        assert answer not in log
        assert json.dumps(answer)[1:-1] not in log  # as a JSON log line would escape it
