"""Uploads never touch the disk. The app runs in-process (with the whisper plugin registered)
while every way the tempfile module makes a file or folder raises; a 2 MB upload, over the
1 MB at which Litestar's own form parser spools to a temporary file, must still be served.
A control endpoint that uses Litestar's form parser shows the trap catches spooling."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import multai_whisper.plugin
import pytest
from litestar import Litestar, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from openai import OpenAI
from speech_fixtures import fixture_path
from transcoding import encode, samples
from whisper_server import ONE_THREAD

from multai_core.config import Config
from multai_core.plugin_api import DeviceSnapshot
from multai_core.plugins import make_plugin_manager
from multai_core.server.app import create_app
from multai_core.testing.server import threaded_server

GiB = 2**30
CPU_ONLY = DeviceSnapshot(ram_total_bytes=16 * GiB, ram_free_bytes=8 * GiB)


class TempFileMade(AssertionError):
    pass


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise TempFileMade("a temporary file was created")


@pytest.fixture
def no_temp_files(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TemporaryFile", "NamedTemporaryFile", "mkstemp", "mkdtemp", "_mkstemp_inner"):
        monkeypatch.setattr(tempfile, name, _refuse)


@pytest.fixture(scope="module")
def app_url(cache_dir: Any) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MULTAI_CACHE_DIR", str(cache_dir))
        for key, value in ONE_THREAD.items():
            env.setenv(key, value)
        pm = make_plugin_manager(load_entry_points=False)
        pm.register(multai_whisper.plugin, name="whisper")
        with threaded_server(create_app(Config(), pm, probe=lambda: CPU_ONLY)) as url:
            yield url


@pytest.fixture(scope="module")
def studio_wav() -> bytes:
    data = encode(samples(fixture_path("en_invoice.wav")), "wav-48k-stereo-float")
    assert len(data) > 2_000_000
    return data


def test_large_upload_is_transcribed_without_temporary_files(
    app_url: str, studio_wav: bytes, no_temp_files: None
) -> None:
    client = OpenAI(base_url=f"{app_url}/v1", api_key="unused", max_retries=0, timeout=120)
    result = client.audio.transcriptions.create(
        model="whisper-1", file=("studio.wav", studio_wav), language="en"
    )
    assert "invoice" in result.text.lower()


@get("/health")
async def _health() -> str:
    return "ok"


@post("/spooling", request_max_body_size=None)
async def spooling(
    data: Annotated[dict[str, UploadFile], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> int:
    return len(await data["file"].read())


def test_the_trap_catches_litestars_spooling(studio_wav: bytes, no_temp_files: None) -> None:
    with threaded_server(Litestar([spooling, _health])) as url:
        response = httpx.post(f"{url}/spooling", files={"file": ("a.wav", studio_wav)})
    assert response.status_code == 500
