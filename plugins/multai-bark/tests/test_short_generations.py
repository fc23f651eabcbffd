"""A generation with nothing to decode (Bark's semantic stage ends at its first token) answers
200 with a short silence, never a 500 from the codec. The mute models (conftest) make that
generation happen on every request; real Bark samples it now and then (2 of 50 requests)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bark_audio import decode
from bark_tiny import SAMPLE_RATE
from conftest import Server
from multai_bark.stages import SEMANTIC_ATTEMPTS, SILENT_SEGMENT_S
from openai import OpenAI

SILENT_SAMPLES = round(SILENT_SEGMENT_S * SAMPLE_RATE)
PAUSE_SAMPLES = round(0.2 * SAMPLE_RATE)  # the default sentence_pause_s


@pytest.mark.parametrize("response_format", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_nothing_to_decode_is_a_short_silence_in_every_format(
    client: OpenAI, response_format: str
) -> None:
    response = client.audio.speech.create(
        model="tiny-bark-mute",
        voice="alloy",
        input="Good morning to you.",
        response_format=response_format,  # type: ignore[arg-type]
    )
    assert response.response.status_code == 200
    rate, samples = decode(response.content, response_format)
    assert rate == SAMPLE_RATE
    # lossy codecs add their encoder delay and padding; never much
    assert abs(samples.size - SILENT_SAMPLES) / rate < 0.15, samples.size
    assert np.abs(samples).max() < 0.001


def test_sampling_tries_again_then_gives_silence_for_each_sentence(
    client: OpenAI, server: Server
) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="tiny-bark-mute-sampling",
        voice="alloy",
        input="First sentence here. A second one. And a third.",
        response_format="pcm",
        extra_headers={"x-request-id": "bark-mute-sampling"},
    ) as raw:
        assert raw.status_code == 200
        segments = int(raw.headers["x-multai-speech-segments"])
        pcm = raw.read()
    assert segments == 3
    assert len(pcm) == 2 * (3 * SILENT_SAMPLES + 2 * PAUSE_SAMPLES)
    assert not np.frombuffer(pcm, dtype="<i2").any()
    silent = [
        event
        for event in map(json.loads, filter(is_json, server.log().splitlines()))
        if event.get("event") == "speech_segment_silent"
        and event.get("request_id") == "bark-mute-sampling"
    ]
    # bounded: each sentence's semantic stage ran SEMANTIC_ATTEMPTS times, then gave up
    assert [(e["segment"], e["attempts"]) for e in silent] == [
        (0, SEMANTIC_ATTEMPTS),
        (1, SEMANTIC_ATTEMPTS),
        (2, SEMANTIC_ATTEMPTS),
    ]


def is_json(line: str) -> bool:
    return line.startswith("{")
