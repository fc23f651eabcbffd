"""stream=true: segments as OpenAI's transcript.text.delta events as they are decoded, then one
transcript.text.done; each event validated against OpenAI's spec."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from openai import OpenAI
from speech_fixtures import fixture_path, spoken_text
from test_transcriptions import EN, word_error_rate
from transcoding import encode, joined
from whisper_server import Server

from multai_core.testing.openai_spec import validate

EN_PATH = fixture_path(EN)


def test_stream_through_the_sdk(client: OpenAI) -> None:
    with EN_PATH.open("rb") as audio:
        stream = client.audio.transcriptions.create(
            model="whisper-1", file=audio, language="en", stream=True, temperature=0.0
        )
        events = [event.model_dump(mode="json", exclude_unset=True) for event in stream]
    deltas = [e for e in events if e["type"] == "transcript.text.delta"]
    with EN_PATH.open("rb") as audio:
        verbose = client.audio.transcriptions.create(
            model="whisper-1",
            file=audio,
            language="en",
            response_format="verbose_json",
            temperature=0.0,
        )
    assert verbose.segments and len(deltas) == len(verbose.segments)  # one per segment
    assert events[-1]["type"] == "transcript.text.done"
    assert [e["type"] for e in events[:-1]] == ["transcript.text.delta"] * len(deltas)
    for event in deltas:
        validate("TranscriptTextDeltaEvent", event)
    validate("TranscriptTextDoneEvent", events[-1])
    text = events[-1]["text"]
    assert "".join(e["delta"] for e in deltas) == text
    assert word_error_rate(text, spoken_text(EN)) <= 0.2


def test_stream_sends_segments_before_the_end(server: Server) -> None:
    """A 45 s call (two 30 s windows): the first window's segments arrive while the second is
    still being decoded."""
    call = encode(joined([fixture_path("en_call.wav"), EN_PATH], seconds=45), "mp3")
    arrivals: list[tuple[float, dict[str, object]]] = []
    started = time.monotonic()
    with httpx.stream(
        "POST",
        f"{server.base_url}/v1/audio/transcriptions",
        files={"file": ("call.mp3", call, "audio/mpeg")},
        data={"model": "whisper-1", "stream": "true", "language": "en"},
        timeout=300,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                arrivals.append((time.monotonic() - started, json.loads(line[6:])))
    kinds = [event["type"] for _, event in arrivals]
    assert kinds[-1] == "transcript.text.done" and kinds.count("transcript.text.done") == 1
    assert kinds.count("transcript.text.delta") >= 8
    first_delta = next(t for t, event in arrivals if event["type"] == "transcript.text.delta")
    assert arrivals[-1][0] - first_delta >= 1.0, arrivals
    assert "support line" in str(arrivals[-1][1]["text"]).lower()


def test_errors_before_the_first_event_are_http_errors(server: Server) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/audio/transcriptions",
        files={"file": ("x.wav", b"this is not audio at all" * 10)},
        data={"model": "whisper-1", "stream": "true"},
        timeout=60,
    )
    assert response.status_code == 400
    validate("ErrorResponse", response.json())


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")
def test_translation_streams_too(server: Server) -> None:
    with fixture_path("de_coffee.wav").open("rb") as audio:
        response = httpx.post(
            f"{server.base_url}/v1/audio/translations",
            files={"file": ("de.wav", audio)},
            data={"model": "whisper-1", "stream": "true"},
            timeout=120,
        )
    events = [
        json.loads(line[6:])
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    assert events[-1]["type"] == "transcript.text.done"
    assert "coffee" in events[-1]["text"].lower()


def test_a_client_that_leaves_cancels_the_transcription(server: Server) -> None:
    # three minutes: about 30 s of decoding here, of which the first window takes a few
    call = encode(joined([fixture_path("en_call.wav"), EN_PATH], seconds=180), "mp3")
    request_id = "whisper-stream-leaves-1"
    with httpx.stream(
        "POST",
        f"{server.base_url}/v1/audio/transcriptions",
        files={"file": ("call.mp3", call, "audio/mpeg")},
        data={"model": "whisper-1", "stream": "true", "language": "en"},
        headers={"x-request-id": request_id},
        timeout=300,
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                break  # the first delta: hang up while the later windows are still to decode
    deadline = time.monotonic() + 60
    finished: dict[str, object] = {}
    while time.monotonic() < deadline and not finished:
        for line in server.log.read_text(encoding="utf-8").splitlines():
            if request_id in line and '"inference_finished"' in line:
                finished = json.loads(line[line.index("{") :])  # after a Ray worker's prefix
        time.sleep(0.2)
    assert finished.get("outcome") == "cancelled", finished
    assert float(str(finished["seconds"])) < 15  # stopped at the next segment, not the end
    assert httpx.get(f"{server.base_url}/health", timeout=10).status_code == 200
