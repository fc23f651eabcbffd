"""Decoding budgets through the real server: a request's images are counted from their headers
before anything decodes (max_request_pixels), the server decodes at most
max_decode_pixels_in_flight pixels and max_audio_seconds_in_flight seconds of audio at once,
and memory returns to the system afterwards (issue 19, finding 1)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
import wave
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import psutil
import pytest
from openai import OpenAI
from PIL import Image

from multai_core.config import Config, ServerConfig
from multai_core.plugin_api.types import ModelSpec
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin

MB = 1_000_000
SIDE_33MP = 5744  # 5744 x 5744 = 32,993,536 pixels: just under max_image_pixels
SERVED_AT = re.compile(r"URL=(http://127\.0\.0\.1:\d+)")
SLOW_WORDS = " ".join(["word"] * 40)  # with token_delay 0.05: about 2 s in flight


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def solid_png(width: int, height: int, color: tuple[int, int, int] = (40, 90, 200)) -> bytes:
    """A complete, valid one-colour PNG, compressed row by row: a few hundred KB for 33 MP,
    which decodes to about 100 MB."""
    row = b"\0" + bytes(color) * width
    packer = zlib.compressobj(9)
    rows = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def image_message(urls: list[str], text: str = "what is this?") -> list[dict[str, object]]:
    parts: list[dict[str, object]] = [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return [{"role": "user", "content": [*parts, {"type": "text", "text": text}]}]


@contextlib.contextmanager
def server_process(**server: object) -> Iterator[tuple[str, psutil.Process]]:
    """The echo server in a process of its own (this module run as a script), so that its RSS
    is the server's alone, not the test client's."""
    command = [sys.executable, "-m", "tests.test_decode_budget", json.dumps(server)]
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        command, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        # the server's log shares the pipe and may land inside the line: search, not match
        found = next(filter(None, map(SERVED_AT.search, process.stdout)), None)
        if found is None:
            pytest.fail("the server process ended before it served")
        threading.Thread(target=process.stdout.read, daemon=True).start()  # its log
        yield found.group(1), psutil.Process(process.pid)
    finally:
        process.stdin.close()  # the server's signal to stop
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss(process: psutil.Process) -> int:
    return int(process.memory_info().rss)


@pytest.fixture(scope="module")
def png_33mp() -> bytes:
    return solid_png(SIDE_33MP, SIDE_33MP)


def plugin() -> EchoPlugin:
    return EchoPlugin(
        [
            ModelSpec(name="echo", backend="echo"),
            ModelSpec(name="slow", backend="echo", options={"token_delay": 0.05}),
            ModelSpec(name="ear", backend="echo", options={"transcribe_seconds": 2}),
        ]
    )


@pytest.fixture
def echo() -> EchoPlugin:
    return plugin()


@contextlib.contextmanager
def serve(echo: EchoPlugin, **server: object) -> Iterator[str]:
    config = Config(server=ServerConfig(**server))  # type: ignore[arg-type]
    with make_server(echo, config) as base_url:
        yield base_url


def sdk(base_url: str) -> OpenAI:
    return OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=60)


def test_sixteen_33mp_images_are_refused_from_their_headers(png_33mp: bytes) -> None:
    url = data_url(png_33mp)
    assert len(url) * 16 < 3 * MB  # the finding: all of it fits a small JSON body
    with server_process() as (base_url, server):
        client = sdk(base_url)
        client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}])
        before = rss(server)
        started = time.perf_counter()
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="echo", messages=image_message([url] * 16))
        seconds = time.perf_counter() - started
        growth = rss(server) - before
        error = refused.value.body
        assert isinstance(error, dict)
        assert error["code"] == "image_too_large" and error["param"] == "messages"
        assert "max_request_pixels" in error["message"]
        assert seconds < 1.0, f"refused after {seconds:.2f} s"
        assert growth < 200 * MB, f"the server's RSS grew by {growth / MB:.0f} MB"


def test_decoding_over_the_server_budget_is_a_429(echo: EchoPlugin) -> None:
    two_mp = data_url(solid_png(2000, 1000))
    with serve(echo, max_decode_pixels_in_flight=3_000_000) as base_url:
        client = sdk(base_url)
        held = client.chat.completions.create(
            model="slow", messages=image_message([two_mp], SLOW_WORDS), stream=True
        )
        chunks = iter(held)
        next(chunks)  # the first request's image is decoded and its job is running
        with pytest.raises(openai.RateLimitError) as busy:
            client.chat.completions.create(model="echo", messages=image_message([two_mp]))
        assert int(busy.value.response.headers["retry-after"]) >= 1
        error = busy.value.body
        assert isinstance(error, dict) and error["code"] == "decode_budget_busy"
        assert "max_decode_pixels_in_flight" in error["message"]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text.startswith("image:2000x1000")  # the first request ends: its pixels return
        held.close()
        answer = client.chat.completions.create(model="echo", messages=image_message([two_mp]))
        assert answer.choices[0].message.content == "image:2000x1000 what is this?"


def test_a_request_larger_than_the_whole_budget_is_a_400(echo: EchoPlugin) -> None:
    with serve(echo, max_decode_pixels_in_flight=1_000_000) as base_url:
        with pytest.raises(openai.BadRequestError) as refused:
            sdk(base_url).chat.completions.create(
                model="echo", messages=image_message([data_url(solid_png(2000, 1000))])
            )
        assert "max_decode_pixels_in_flight" in str(refused.value.body)


def wav(seconds: float, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(seconds * rate))
    return buffer.getvalue()


def test_audio_seconds_over_the_server_budget_are_a_429(echo: EchoPlugin) -> None:
    six_seconds = wav(6)
    with serve(echo, max_audio_seconds_in_flight=10) as base_url:
        client = sdk(base_url)
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(
                client.audio.transcriptions.create,
                model="ear",
                file=("a.wav", six_seconds, "audio/wav"),
            )
            deadline = time.monotonic() + 10
            while not echo.started and time.monotonic() < deadline:
                time.sleep(0.02)
            assert echo.started, "the first transcription never started"
            with pytest.raises(openai.RateLimitError) as busy:
                client.audio.transcriptions.create(
                    model="echo", file=("b.wav", six_seconds, "audio/wav")
                )
            assert held.result().text == f"{len(six_seconds)} bytes"
        error = busy.value.body
        assert isinstance(error, dict) and "max_audio_seconds_in_flight" in error["message"]
        assert int(busy.value.response.headers["retry-after"]) >= 1
        again = client.audio.transcriptions.create(
            model="echo", file=("b.wav", six_seconds, "audio/wav")
        )
        assert again.text == f"{len(six_seconds)} bytes"
        with pytest.raises(openai.BadRequestError) as never:
            client.audio.transcriptions.create(model="echo", file=("c.wav", wav(11), "audio/wav"))
        assert "max_audio_seconds_in_flight" in str(never.value.body)


# --- a soak of hostile uploads ------------------------------------------------------------------


def noisy_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(
        buffer, format="PNG", compress_level=1
    )
    return buffer.getvalue()


def bomb_png(side: int) -> bytes:
    """A PNG header claiming side x side pixels, with only a few rows of data."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * (1 + 3 * side) * 4)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows)


def test_a_soak_of_hostile_uploads_leaves_memory_where_it_was(png_33mp: bytes) -> None:
    noisy = noisy_png(1000, 600)
    hostile = {
        "oversized": [data_url(os.urandom(3 * MB))],
        "truncated": [data_url(noisy[: len(noisy) // 2])],
        "bomb": [data_url(bomb_png(12_000))],
        "many small": [data_url(solid_png(64, 64))] * 16,
        "over the request's pixels": [data_url(png_33mp)] * 3,
        "large and valid": [data_url(solid_png(2500, 2000))],
    }
    expected = {
        "oversized": 413,
        "truncated": 400,
        "bomb": 400,
        "many small": 200,
        "over the request's pixels": 400,
        "large and valid": 200,
    }
    with (
        server_process(max_image_bytes=2 * 2**20) as (base_url, server),
        httpx.Client(base_url=base_url, timeout=60) as http,
        ThreadPoolExecutor(4) as pool,
    ):

        def send(item: tuple[str, list[str]]) -> tuple[str, int]:
            body = {"model": "echo", "messages": image_message(item[1]), "max_tokens": 4}
            return item[0], http.post("/v1/chat/completions", json=body).status_code

        def soak_round() -> None:
            for name, status in pool.map(send, hostile.items()):
                # a valid request may meet another's pixels in flight: 429 then
                assert status in (expected[name], 429), f"{name}: {status}"

        # warm up: every path and thread has run and the allocator's heaps have grown to what
        # serving this mix takes; the start is their high-water mark (with several threads
        # allocating, RSS between rounds wanders by a few MB either way)
        start = 0
        for _ in range(3):
            soak_round()
            start = max(start, rss(server))
        for _ in range(8):
            soak_round()
        time.sleep(0.5)  # the decode pool's last trims
        end = rss(server)
        assert end <= start * 1.10, f"the server's RSS: {start / MB:.0f} MB -> {end / MB:.0f} MB"


def _serve_until_stdin_closes(settings: str) -> None:
    config = Config(server=ServerConfig(**json.loads(settings)))
    with make_server(plugin(), config) as base_url:
        print(f"URL={base_url}", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    _serve_until_stdin_closes(sys.argv[1])
