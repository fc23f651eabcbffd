"""/v1/audio/speech and /v1/audio/voices through the official SDK against a real server whose
default speech model is this pack's piper-joe (no config)."""

from __future__ import annotations

import base64
import json
import time

import httpx
import openai
import pytest
from conftest import Server
from openai import OpenAI
from piper_audio import decode, voiced_seconds

from multai_core.testing.openai_spec import validate

TWO = "The library opens at nine on weekdays. Bring your card to borrow books."
# the media type each response format is sent as (Ogg Opus, ADTS AAC, raw s16le pcm)
CONTENT_TYPES = dict(
    mp3="audio/mpeg", opus="audio/ogg", aac="audio/aac", flac="audio/flac", wav="audio/wav"
) | {"pcm": "audio/pcm"}


def speak(client: OpenAI, text: str = TWO, **kwargs: object) -> tuple[bytes, httpx.Response]:
    params = {"model": "piper-joe", "voice": "alloy", "input": text, **kwargs}
    response = client.audio.speech.create(**params)  # type: ignore[arg-type]
    return response.content, response.response


def loaded(server: Server) -> list[str]:
    return [m["name"] for m in httpx.get(f"{server.base_url}/v1/ps").json()["data"]]


def test_voices_are_listed_without_loading_the_voice(server: Server) -> None:
    was_loaded = "piper-joe" in loaded(server)
    listed = httpx.get(f"{server.base_url}/v1/audio/voices")  # the first speech model
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "object": "list",
        "model": "piper-joe",
        "data": [
            {
                "id": "joe",
                "language": "en",
                "openai_names": [
                    "alloy",
                    "ash",
                    "ballad",
                    "cedar",
                    "coral",
                    "echo",
                    "fable",
                    "marin",
                    "nova",
                    "onyx",
                    "sage",
                    "shimmer",
                    "verse",
                ],
            }
        ],
    }
    by_alias = httpx.get(f"{server.base_url}/v1/audio/voices", params={"model": "tts-1"})
    assert [v["id"] for v in by_alias.json()["data"]] == ["joe"]
    if not was_loaded:
        assert "piper-joe" not in loaded(server)


@pytest.mark.parametrize("response_format", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_format_streams_and_decodes(client: OpenAI, response_format: str) -> None:
    data, response = speak(client, response_format=response_format)
    assert response.headers["content-type"] == CONTENT_TYPES[response_format]
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["x-multai-sample-rate"] == "22050"
    assert response.headers["x-multai-voice"] == "joe"
    assert response.headers["x-multai-speech-segments"] == "2"
    rate, samples = decode(data, response_format)
    assert 3.0 < samples.size / rate < 9.0  # two sentences of about 2.5 s
    assert abs(samples).max() > 0.3


def test_openai_model_names_and_the_default_voice(server: Server, client: OpenAI) -> None:
    data, response = speak(client, "Hello there.", model="tts-1", voice="nova")
    assert response.headers["x-multai-voice"] == "joe" and data
    default = httpx.post(
        f"{server.base_url}/v1/audio/speech", json={"model": "gpt-4o-mini-tts", "input": "Hi."}
    )
    assert default.status_code == 200 and default.headers["content-type"] == "audio/mpeg"


def test_speed_changes_the_duration(client: OpenAI) -> None:
    normal, _ = speak(client, response_format="wav")
    fast, _ = speak(client, response_format="wav", speed=2.0)
    slow, _ = speak(client, response_format="wav", speed=0.5)
    base = voiced_seconds(normal, "wav")
    assert voiced_seconds(fast, "wav") / base == pytest.approx(0.5, rel=0.15)
    assert voiced_seconds(slow, "wav") / base == pytest.approx(2.0, rel=0.15)


def test_sse_stream_format(client: OpenAI) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="piper-joe", voice="alloy", input=TWO, response_format="pcm", stream_format="sse"
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = list(response.iter_lines())
    events = [json.loads(line.removeprefix("data: ")) for line in lines if line[:6] == "data: "]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 2 and events[-1]["type"] == "speech.audio.done"
    for event in deltas:
        validate("SpeechAudioDeltaEvent", event)
    validate("SpeechAudioDoneEvent", events[-1])
    assert events[-1]["usage"]["input_tokens"] > 50  # phoneme ids
    pcm = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert 3.0 < len(pcm) / 2 / 22_050 < 9.0


def test_an_unknown_voice_is_a_400_in_openai_shape(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        speak(client, voice="no-such-voice")
    error = caught.value.response.json()
    validate("ErrorResponse", error)
    assert (error["error"]["param"], error["error"]["code"]) == ("voice", "voice_not_found")
    assert "/v1/audio/voices?model=piper-joe" in error["error"]["message"]


def test_disconnect_stops_between_sentences(server: Server) -> None:
    text = " ".join(f"This is sentence {n} of a rather long document." for n in range(30))
    with httpx.stream(
        "POST",
        f"{server.base_url}/v1/audio/speech",
        json={"model": "piper-joe", "input": text, "voice": "alloy", "response_format": "pcm"},
        headers={"x-request-id": "piper-cancel-1"},
        timeout=120,
    ) as response:
        assert int(response.headers["x-multai-speech-segments"]) == 30
        next(response.iter_raw())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _finished(server.log(), "piper-cancel-1"):
        time.sleep(0.1)
    log = server.log()
    assert '"outcome": "cancelled"' in _finished(log, "piper-cancel-1")
    spoken = [
        line for line in log.splitlines() if "speech_piece" in line and "piper-cancel-1" in line
    ]
    assert 1 <= len(spoken) < 30


def _finished(log: str, request_id: str) -> str:
    lines = [line for line in log.splitlines() if '"inference_finished"' in line]
    return next((line for line in lines if request_id in line), "")


def test_neither_the_text_nor_a_bad_voice_request_is_logged(server: Server, client: OpenAI) -> None:
    private = "Quixotrellis private medical note."
    with pytest.raises(openai.BadRequestError):
        speak(client, private, voice="nobody-here")
    assert speak(client, private, response_format="wav")[0]
    assert "speech_piece" in server.log() and "Quixotrellis" not in server.log()
