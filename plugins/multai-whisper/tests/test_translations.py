"""POST /v1/audio/translations through the official SDK: German speech comes back as English
text in every response format."""

from __future__ import annotations

import io
from typing import Any

import pytest
import srt
import webvtt
from openai import OpenAI
from speech_fixtures import fixture_path

from multai_core.testing.openai_spec import validate

# The SDK marks translations.create deprecated (OpenAI retires whisper-1); the endpoint is ours.
pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")

GERMAN = (
    "de_coffee.wav"  # "Guten Morgen. Ich möchte eine Tasse Kaffee und ein Stück Kuchen, bitte."
)
ENGLISH_WORDS = {"good", "morning", "like", "cup", "coffee", "piece", "cake", "please"}
GERMAN_WORDS = {"guten", "morgen", "ich", "möchte", "eine", "tasse", "kaffee", "stück", "bitte"}


def translate(client: OpenAI, **kwargs: Any) -> Any:
    with fixture_path(GERMAN).open("rb") as audio:
        return client.audio.translations.create(model="whisper-1", file=audio, **kwargs)


def assert_english(text: str) -> None:
    words = {w.strip(".,!?").lower() for w in text.split()}
    assert len(words & ENGLISH_WORDS) >= 5, text
    assert not words & GERMAN_WORDS, text


def test_json_is_english(client: OpenAI) -> None:
    result = translate(client)
    body = result.model_dump(mode="json", exclude_unset=True)
    validate("CreateTranslationResponseJson", body)
    assert_english(result.text)


def test_verbose_json_says_english_and_has_segments(client: OpenAI) -> None:
    result = translate(client, response_format="verbose_json")
    body = result.model_dump(mode="json", exclude_unset=True)
    validate("CreateTranslationResponseVerboseJson", body)
    assert body["task"] == "translate"
    assert body["language"] == "english"
    assert body["duration"] == pytest.approx(5.12, abs=0.05)
    assert body["segments"] and "words" not in body
    assert_english(body["text"])


def test_srt_and_vtt_parse(client: OpenAI) -> None:
    cues = list(srt.parse(translate(client, response_format="srt"), ignore_errors=False))
    assert_english(" ".join(c.content for c in cues))
    vtt = translate(client, response_format="vtt", extra_body={"language": "de"})
    assert_english(" ".join(c.text for c in webvtt.from_buffer(io.StringIO(vtt))))


def test_text(client: OpenAI) -> None:
    text = translate(client, response_format="text", extra_body={"language": "de"})
    assert isinstance(text, str)
    assert_english(text)
