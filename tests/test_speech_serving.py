"""How /v1/audio/speech reports failures, with a speech plugin that fails on purpose (the real
server app in a thread, the real serving code): before the first audio a plain HTTP error,
after it a cut connection (or an SSE error event); the server keeps serving either way. Also
the voices listing of a backend that must load its model to tell."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from multai_core.config import Config
from multai_core.plugin_api import (
    Backend,
    DeviceSnapshot,
    InferResult,
    InvalidRequest,
    MemoryEstimate,
    ModelSpec,
    Placement,
    SpeechAudio,
    SpeechChunk,
    SpeechDone,
    SpeechStart,
    SpeechTask,
    Task,
    VoiceCatalog,
    VoiceInfo,
    VoicesTask,
    hookimpl,
)
from multai_core.plugins import make_plugin_manager
from multai_core.server.app import create_app
from multai_core.testing.openai_spec import validate
from multai_core.testing.server import threaded_server

PIECE = b"\x01\x00" * 2400


class FailingSpeech:
    """Speaks two pieces of silence-ish pcm; the input says where to fail. It has no
    ``Backend.voices``, so its voices are listed by a VoicesTask on the loaded model."""

    @hookimpl
    def multai_register_backends(self, register: Callable[[Backend], None]) -> None:
        register(Backend(name="failing", tasks=frozenset({"speech"})))

    @hookimpl
    def multai_estimate_memory(self, spec: ModelSpec, devices: DeviceSnapshot) -> MemoryEstimate:
        return MemoryEstimate(cpu_bytes=1, supports_gpu=False)

    @hookimpl
    def multai_load(self, spec: ModelSpec, placement: Placement) -> str:
        return "failing-handle"

    @hookimpl
    def multai_infer(self, handle: str, task: Task, cancel: threading.Event) -> InferResult:
        match task.payload:
            case VoicesTask():
                return VoiceCatalog(voices=[VoiceInfo(id="v", language=None, openai_names=[])])
            case SpeechTask() as speech:
                return self.pieces(speech.text)
            case _:
                raise InvalidRequest("speech only")

    @staticmethod
    def pieces(text: str) -> Iterator[SpeechChunk]:
        if text == "fail early":
            raise RuntimeError("before anything")
        yield SpeechStart(segments=2, sample_rate=24_000, voice="v")
        yield SpeechAudio(data=PIECE)
        if text == "fail late":
            raise RuntimeError("after the first piece")
        yield SpeechAudio(data=PIECE)
        yield SpeechDone(segments=2, audio_seconds=0.2, input_tokens=2, output_tokens=10)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(FailingSpeech(), name="failing")
    config = Config(models=[ModelSpec(name="failing", backend="failing")])
    probe = lambda: DeviceSnapshot(ram_total_bytes=2**34, ram_free_bytes=2**33)  # noqa: E731
    with threaded_server(create_app(config, pm, probe=probe)) as url:
        yield url


def post(base_url: str, text: str, **extra: object) -> httpx.Response:
    body = {"model": "failing", "input": text, "voice": "v", "response_format": "pcm", **extra}
    return httpx.post(f"{base_url}/v1/audio/speech", json=body, timeout=30)


def test_a_failure_before_the_audio_is_a_500_in_openai_shape(base_url: str) -> None:
    response = post(base_url, "fail early")
    assert response.status_code == 500
    validate("ErrorResponse", response.json())
    assert "RuntimeError" in response.json()["error"]["message"]
    assert "before anything" not in response.text


def test_a_failure_after_the_first_audio_cuts_the_body(base_url: str) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        post(base_url, "fail late")
    fine = post(base_url, "all good")
    assert fine.status_code == 200 and fine.content == PIECE * 2


def test_a_failure_in_an_sse_stream_is_an_error_event(base_url: str) -> None:
    response = post(base_url, "fail late", stream_format="sse")
    events = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert '"speech.audio.delta"' in events[0]
    assert '"error"' in events[-1] and "server_error" in events[-1]
    assert "speech.audio.done" not in response.text


def test_a_backend_without_a_voices_reader_lists_them_from_the_loaded_model(
    base_url: str,
) -> None:
    response = httpx.get(f"{base_url}/v1/audio/voices", timeout=30)
    assert response.status_code == 200
    assert response.json() == {
        "object": "list",
        "data": [{"id": "v", "language": None, "openai_names": []}],
        "model": "failing",
    }
