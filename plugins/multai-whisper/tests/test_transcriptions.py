"""POST /v1/audio/transcriptions through the official SDK against the real server with Whisper
base: accuracy, every response format and the containers callers send. JSON responses are
validated against OpenAI's published spec."""

from __future__ import annotations

import io
import itertools
import re
from typing import Any

import httpx
import jiwer
import pytest
import srt
import webvtt
from openai import OpenAI
from speech_fixtures import fixture_path, spoken_text
from transcoding import FORMATS, encode, samples
from whisper_server import Server

from multai_core.testing.openai_spec import validate

EN = "en_invoice.wav"
EN_SECONDS = 5.44
MODEL = "whisper-1"  # the default model's alias: code written for OpenAI runs unchanged


def normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def word_error_rate(heard: str, spoken: str) -> float:
    return float(jiwer.wer(normalised(spoken), normalised(heard)))


def dump(obj: Any) -> dict[str, Any]:
    return obj.model_dump(mode="json", exclude_unset=True)  # type: ignore[no-any-return]


def transcribe(client: OpenAI, name: str = EN, **kwargs: Any) -> Any:
    with fixture_path(name).open("rb") as audio:
        return client.audio.transcriptions.create(model=MODEL, file=audio, **kwargs)


def test_json_transcribes_english_within_word_error_rate(client: OpenAI) -> None:
    result = transcribe(client)
    body = dump(result)
    validate("CreateTranscriptionResponseJson", body)
    assert word_error_rate(result.text, spoken_text(EN)) <= 0.2, result.text
    assert body["usage"] == {"type": "duration", "seconds": 6.0}


def test_text_is_the_plain_transcript(client: OpenAI) -> None:
    text = transcribe(client, response_format="text", language="en")
    assert isinstance(text, str)
    assert text.endswith("\n") and not text.startswith(" ")
    assert word_error_rate(text, spoken_text(EN)) <= 0.2, text


def test_srt_parses_with_ordered_cues(client: OpenAI) -> None:
    text = transcribe(client, response_format="srt", language="en")
    cues = list(srt.parse(text, ignore_errors=False))
    assert cues, text
    assert [c.index for c in cues] == list(range(1, len(cues) + 1))
    previous_end = 0.0
    for cue in cues:
        start, end = cue.start.total_seconds(), cue.end.total_seconds()
        assert previous_end <= start <= end <= EN_SECONDS + 0.5
        assert cue.content.strip()
        previous_end = end
    heard = " ".join(c.content for c in cues)
    assert word_error_rate(heard, spoken_text(EN)) <= 0.2, heard


def test_vtt_parses_with_ordered_cues(client: OpenAI) -> None:
    text = transcribe(client, response_format="vtt", language="en")
    assert text.startswith("WEBVTT\n\n")
    cues = list(webvtt.from_buffer(io.StringIO(text)))
    assert cues, text
    previous_end = 0.0
    for cue in cues:
        assert previous_end <= cue.start_in_seconds <= cue.end_in_seconds <= EN_SECONDS + 0.5
        previous_end = cue.end_in_seconds
    heard = " ".join(c.text for c in cues)
    assert word_error_rate(heard, spoken_text(EN)) <= 0.2, heard


def _monotonic(spans: list[tuple[float, float]], duration: float) -> None:
    previous_start = 0.0
    for start, end in spans:
        assert 0.0 <= previous_start <= start <= end <= duration + 0.5, spans
        previous_start = start


def test_verbose_json_has_language_duration_and_segments(client: OpenAI) -> None:
    result = transcribe(client, response_format="verbose_json")
    body = dump(result)
    validate("CreateTranscriptionResponseVerboseJson", body)
    assert body["task"] == "transcribe"
    assert body["language"] == "english"
    assert body["duration"] == pytest.approx(EN_SECONDS, abs=0.05)
    assert "words" not in body
    segments = body["segments"]
    assert [s["id"] for s in segments] == list(range(len(segments)))
    _monotonic([(s["start"], s["end"]) for s in segments], body["duration"])
    for earlier, later in itertools.pairwise(segments):
        assert earlier["end"] <= later["start"] + 1e-6
    assert "".join(s["text"] for s in segments).strip() == body["text"]
    assert word_error_rate(body["text"], spoken_text(EN)) <= 0.2


def test_verbose_json_words_when_asked(client: OpenAI) -> None:
    result = transcribe(
        client,
        response_format="verbose_json",
        language="en",
        timestamp_granularities=["word", "segment"],
    )
    body = dump(result)
    validate("CreateTranscriptionResponseVerboseJson", body)
    words = body["words"]
    assert len(words) >= 10
    assert all(w["word"] == w["word"].strip() and w["word"] for w in words)
    _monotonic([(w["start"], w["end"]) for w in words], body["duration"])
    assert word_error_rate(" ".join(w["word"] for w in words), spoken_text(EN)) <= 0.2
    assert body["segments"]


def test_words_only_leaves_segments_out(client: OpenAI) -> None:
    body = dump(
        transcribe(
            client, response_format="verbose_json", language="en", timestamp_granularities=["word"]
        )
    )
    validate("CreateTranscriptionResponseVerboseJson", body)
    assert body["words"] and "segments" not in body


def test_detects_and_names_another_language(client: OpenAI) -> None:
    body = dump(transcribe(client, "de_coffee.wav", response_format="verbose_json"))
    validate("CreateTranscriptionResponseVerboseJson", body)
    assert body["language"] == "german"
    assert "guten morgen" in body["text"].lower() and "tasse" in body["text"].lower()


def test_prompt_and_the_thesis_initial_prompt_are_accepted(server: Server) -> None:
    # the SDK sends `prompt`; the thesis's clients send `initial_prompt`
    for field in ("prompt", "initial_prompt"):
        with fixture_path(EN).open("rb") as audio:
            response = httpx.post(
                f"{server.base_url}/v1/audio/transcriptions",
                files={"file": ("call.wav", audio, "audio/wav")},
                data={"model": MODEL, field: "Invoice, Friday.", "language": "en"},
                timeout=120,
            )
        assert response.status_code == 200, response.text
        assert word_error_rate(response.json()["text"], spoken_text(EN)) <= 0.2


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "flac", "m4a", "webm"])
def test_common_containers_and_codecs(client: OpenAI, fmt: str) -> None:
    data = encode(samples(fixture_path(EN)), fmt)
    result = client.audio.transcriptions.create(
        model=MODEL, file=(FORMATS[fmt][4], data), language="en", response_format="verbose_json"
    )
    assert result.duration == pytest.approx(EN_SECONDS, abs=0.2)
    assert word_error_rate(result.text, spoken_text(EN)) <= 0.2, (fmt, result.text)


def test_priority_travels_in_the_form(client: OpenAI) -> None:
    result = transcribe(client, language="en", extra_body={"priority": 0})
    assert word_error_rate(result.text, spoken_text(EN)) <= 0.2


def test_openapi_documents_the_multipart_form(server: Server) -> None:
    schema = httpx.get(f"{server.base_url}/openapi/openapi.json", timeout=30).json()
    for path in ("/v1/audio/transcriptions", "/v1/audio/translations"):
        body = schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
        assert {"file", "model", "response_format"} <= set(body["schema"]["properties"])
        assert body["schema"]["required"] == ["file", "model"]


def test_no_audio_prompt_or_transcript_in_the_log(server: Server, client: OpenAI) -> None:
    canary = "Zebracanary Holdings"
    result = transcribe(client, prompt=canary, response_format="verbose_json")
    assert "invoice" in result.text.lower()
    log = server.log.read_text(encoding="utf-8", errors="replace").lower()
    assert "audio_decoded" in log  # the log is being written
    for secret in (canary.lower(), "invoice", "friday", "en_invoice", "call.wav"):
        assert secret not in log, secret
