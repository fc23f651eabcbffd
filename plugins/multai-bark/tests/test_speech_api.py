"""/v1/audio/speech through the official SDK against a real server running the tiny Bark."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
import soundfile as sf
from bark_audio import decode
from bark_tiny import SAMPLE_RATE, SEGMENT_SAMPLES
from conftest import Server
from openai import OpenAI

from multai_core.testing.openai_spec import validate

PAUSE_SAMPLES = round(0.2 * SAMPLE_RATE)  # the default sentence_pause_s
ONE = "Good morning to you."
THREE = (
    "The library opens at nine on weekdays. Bring your card to borrow books. "
    "Audio guides are at the front desk."
)
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def speak(client: OpenAI, text: str = ONE, **kwargs: object) -> tuple[bytes, httpx.Response]:
    params = {"model": "tiny-bark", "voice": "alloy", "input": text, **kwargs}
    response = client.audio.speech.create(**params)  # type: ignore[arg-type]
    return response.content, response.response


def expected_samples(segments: int) -> int:
    return segments * SEGMENT_SAMPLES + (segments - 1) * PAUSE_SAMPLES


@pytest.mark.parametrize("response_format", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_format_decodes_to_the_model_rate(client: OpenAI, response_format: str) -> None:
    data, response = speak(client, response_format=response_format)
    assert response.headers["content-type"] == CONTENT_TYPES[response_format]
    assert response.headers["transfer-encoding"] == "chunked"
    rate, samples = decode(data, response_format)
    assert rate == SAMPLE_RATE
    seconds = samples.size / rate
    # lossy codecs add their encoder delay and padding; never much
    assert seconds > 0
    assert abs(seconds - SEGMENT_SAMPLES / SAMPLE_RATE) < 0.15, seconds
    assert np.abs(samples).max() > 0.001  # not silence


def test_pcm_is_raw_int16_le_and_equals_the_wav_samples(client: OpenAI) -> None:
    pcm, response = speak(client, THREE, response_format="pcm")
    segments = int(response.headers["x-multai-speech-segments"])
    assert len(pcm) == 2 * expected_samples(segments)
    wav, _ = speak(client, THREE, response_format="wav")
    info = sf.info(io.BytesIO(wav))
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
    from_wav, _ = sf.read(io.BytesIO(wav), dtype="int16")
    np.testing.assert_array_equal(np.frombuffer(pcm, dtype="<i2"), from_wav)


def test_long_input_is_split_and_joined_without_clicks(client: OpenAI) -> None:
    pcm, response = speak(client, THREE, response_format="pcm")
    assert response.headers["x-multai-speech-segments"] == "3"
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    assert samples.size == expected_samples(3)
    inside = np.abs(np.diff(samples[:SEGMENT_SAMPLES])).max()
    for join in range(1, 3):
        pause_start = join * SEGMENT_SAMPLES + (join - 1) * PAUSE_SAMPLES
        pause = samples[pause_start : pause_start + PAUSE_SAMPLES]
        assert not pause.any(), "the pause between sentences is silent"
        # each side of the pause fades to silence: no step larger than the speech's own
        edge = samples[pause_start - 240 : pause_start + PAUSE_SAMPLES + 240]
        assert np.abs(np.diff(edge)).max() <= inside
        assert abs(samples[pause_start - 1]) <= 2 and abs(samples[pause_start + PAUSE_SAMPLES]) <= 2


@pytest.mark.parametrize("speed", [0.5, 2.0, 4.0])
def test_speed_changes_the_duration(client: OpenAI, speed: float) -> None:
    normal, _ = speak(client, THREE, response_format="pcm")
    changed, _ = speak(client, THREE, response_format="pcm", speed=speed)
    ratio = len(normal) / len(changed)
    assert ratio == pytest.approx(speed, rel=0.03)


def test_voices_give_different_audio_and_names_reach_presets(client: OpenAI) -> None:
    alloy, response = speak(client, voice="alloy", response_format="pcm")
    assert response.headers["x-multai-voice"] == "v2/en_speaker_6"
    coral, response = speak(client, voice="coral", response_format="pcm")
    assert response.headers["x-multai-voice"] == "v2/en_speaker_9"
    assert len(alloy) == len(coral)
    a = np.frombuffer(alloy, dtype="<i2").astype(np.float64)
    b = np.frombuffer(coral, dtype="<i2").astype(np.float64)
    assert np.std(a - b) > 0.1 * np.std(a)
    # greedy decoding: the same voice says it the same way; a preset name works directly
    again, _ = speak(client, voice="v2/en_speaker_6", response_format="pcm")
    assert again == alloy
    by_object, _ = speak(client, voice={"id": "v2/en_speaker_9"}, response_format="pcm")
    assert by_object == coral


def test_thesis_field_names_are_accepted(server: Server) -> None:
    body = {"model": "tiny-bark", "prompt": ONE, "voice_preset": "v2/en_speaker_9"}
    thesis = httpx.post(
        f"{server.base_url}/v1/audio/speech", json={**body, "response_format": "pcm"}
    )
    assert thesis.status_code == 200, thesis.text
    assert thesis.headers["x-multai-voice"] == "v2/en_speaker_9"
    openai_style = httpx.post(
        f"{server.base_url}/v1/audio/speech",
        json={"model": "tiny-bark", "input": ONE, "voice": "coral", "response_format": "pcm"},
    )
    assert thesis.content == openai_style.content
    default = httpx.post(
        f"{server.base_url}/v1/audio/speech", json={"model": "tiny-bark", "input": ONE}
    )
    assert default.status_code == 200 and default.headers["content-type"] == "audio/mpeg"


def test_sdk_streaming_response_and_priority(client: OpenAI, tmp_path: Path) -> None:
    target = tmp_path / "speech.wav"
    with client.audio.speech.with_streaming_response.create(
        model="tiny-bark",
        voice="alloy",
        input=THREE,
        response_format="wav",
        extra_body={"priority": 0},
    ) as response:
        assert response.headers["content-type"] == "audio/wav"
        response.stream_to_file(target)
    info = sf.info(target)
    assert (info.samplerate, info.frames) == (SAMPLE_RATE, expected_samples(3))


def test_config_changes_the_voice_table(client: OpenAI) -> None:
    custom_alloy, response = speak(client, model="tiny-bark-custom", response_format="pcm")
    assert response.headers["x-multai-voice"] == "announcer"
    announcer, _ = speak(client, voice="announcer", response_format="pcm")
    assert custom_alloy == announcer
    narrator, response = speak(
        client, model="tiny-bark-custom", voice="narrator", response_format="pcm"
    )
    assert response.headers["x-multai-voice"] == "v2/en_speaker_9"
    coral, _ = speak(client, voice="coral", response_format="pcm")
    assert narrator == coral


def test_sse_stream_format(server: Server, client: OpenAI) -> None:
    pcm, _ = speak(client, THREE, response_format="pcm")
    with httpx.stream(
        "POST",
        f"{server.base_url}/v1/audio/speech",
        json={
            "model": "tiny-bark",
            "input": THREE,
            "voice": "alloy",
            "response_format": "pcm",
            "stream_format": "sse",
        },
        timeout=120,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[len("data: ") :])
            for line in response.iter_lines()
            if line.startswith("data: ")
        ]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 3 and events[-1]["type"] == "speech.audio.done"
    for event in deltas:
        validate("SpeechAudioDeltaEvent", event)
    validate("SpeechAudioDoneEvent", events[-1])
    assert events[-1]["usage"]["output_tokens"] > 0
    assert b"".join(base64.b64decode(e["audio"]) for e in deltas) == pcm


def test_audio_streams_while_later_sentences_generate(server: Server) -> None:
    text = " ".join(f"Sentence number {n} is here for you to hear." for n in range(8))
    started = time.perf_counter()
    arrivals: list[float] = []
    with httpx.stream(
        "POST",
        f"{server.base_url}/v1/audio/speech",
        json={"model": "tiny-bark", "input": text, "voice": "alloy", "response_format": "pcm"},
        timeout=120,
    ) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        segments = int(response.headers["x-multai-speech-segments"])
        total = 0
        for chunk in response.iter_raw():
            arrivals.append(time.perf_counter() - started)
            total += len(chunk)
    assert segments == 8
    assert total == 2 * expected_samples(8)
    # the first sentence is sent while the other seven are still being generated
    assert arrivals[0] < 0.5 * arrivals[-1], arrivals


def test_disconnect_stops_between_sentences(server: Server) -> None:
    text = " ".join(f"This is sentence {n} of a rather long document." for n in range(12))
    with httpx.stream(
        "POST",
        f"{server.base_url}/v1/audio/speech",
        json={"model": "tiny-bark", "input": text, "voice": "alloy", "response_format": "pcm"},
        headers={"x-request-id": "bark-cancel-1"},
        timeout=120,
    ) as response:
        assert int(response.headers["x-multai-speech-segments"]) == 12
        next(response.iter_raw())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "bark-cancel-1" not in _finished(server.log()):
        time.sleep(0.1)
    log = server.log()
    assert '"outcome": "cancelled"' in _finished(log)["bark-cancel-1"]
    spoken = [
        line for line in log.splitlines() if "speech_segment" in line and "bark-cancel-1" in line
    ]
    assert 1 <= len(spoken) < 12


def _finished(log: str) -> dict[str, str]:
    lines = [line for line in log.splitlines() if '"inference_finished"' in line]
    return {rid: line for line in lines for rid in ["bark-cancel-1"] if rid in line}


def test_the_log_never_holds_the_text(server: Server, client: OpenAI) -> None:
    secret = "Zanzibarquokka confidential diagnosis."
    speak(client, secret, response_format="pcm")
    with pytest.raises(openai.BadRequestError):
        speak(client, secret, voice="no-such-voice")
    log = server.log()
    assert "speech_segment" in log
    assert "Zanzibarquokka" not in log


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"voice": "no-such-voice"}, "voice", "/v1/audio/voices"),
        ({"voice": "echo"}, "voice", "does not carry"),
        ({"input": ""}, "input", "empty"),
        ({"input": "   "}, "input", "empty"),
        ({"input": "a" * 4097}, "input", "4096"),
        ({"response_format": "ogg"}, "response_format", "mp3, opus, aac, flac, wav, pcm"),
        ({"speed": 5.0}, "speed", "4.0"),
        ({"speed": 0.1}, "speed", "0.25"),
        ({"stream_format": "video"}, "stream_format", "audio, sse"),
        ({"priority": 5}, "priority", "<= 2"),
        ({"input": None, "prompt": None}, "input", "input"),
        ({"input": "a", "prompt": "b"}, "prompt", "not both"),
    ],
)
def test_bad_requests_get_400_in_openai_shape(
    client: OpenAI, body: dict[str, object], param: str, fragment: str
) -> None:
    params: dict[str, object] = {"model": "tiny-bark", "voice": "alloy", "input": ONE, **body}
    params = {k: v for k, v in params.items() if v is not None}
    if "input" not in params:
        params["input"] = openai.NOT_GIVEN
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(
            model=str(params.pop("model")),
            voice=params.pop("voice"),  # type: ignore[arg-type]
            input=params.pop("input"),  # type: ignore[arg-type]
            extra_body=params,
        )
    error = caught.value.response.json()
    validate("ErrorResponse", error)
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["param"] == param
    assert fragment in error["error"]["message"]


def test_unknown_model_gets_404(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        speak(client, model="no-such-model")
    assert caught.value.response.json()["error"]["code"] == "model_not_found"


def test_voices_list(server: Server) -> None:
    listed = httpx.get(f"{server.base_url}/v1/audio/voices").json()
    assert listed["object"] == "list" and listed["model"] == "tiny-bark"
    by_id = {v["id"]: v for v in listed["data"]}
    assert set(by_id) == {"v2/en_speaker_6", "v2/en_speaker_9", "announcer"}
    assert by_id["v2/en_speaker_6"] == {
        "id": "v2/en_speaker_6",
        "language": "en",
        "openai_names": ["alloy"],
    }
    assert by_id["v2/en_speaker_9"]["openai_names"] == ["coral", "marin", "nova", "sage", "shimmer"]
    assert by_id["announcer"]["language"] is None
    custom = httpx.get(
        f"{server.base_url}/v1/audio/voices", params={"model": "tiny-bark-custom"}
    ).json()
    names = {v["id"]: v["openai_names"] for v in custom["data"]}
    assert names["announcer"] == ["alloy"] and "narrator" in names["v2/en_speaker_9"]
    missing = httpx.get(f"{server.base_url}/v1/audio/voices", params={"model": "nope"})
    assert missing.status_code == 404
    validate("ErrorResponse", missing.json())


def test_creating_a_voice_is_a_clear_405(server: Server) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/audio/voices",
        files={"audio_sample": ("a.wav", b"RIFF", "audio/wav")},
        data={"name": "mine", "consent": "cons_1"},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    body = response.json()
    validate("ErrorResponse", body)
    assert "GET /v1/audio/voices" in body["error"]["message"]
