"""Piper speaks a paragraph, the whisper pack transcribes it, both through the official SDK
against one real server: the words come back (word error rate at most 0.10)."""

from __future__ import annotations

import re

import jiwer
import pytest
from openai import OpenAI

pytest.importorskip("multai_whisper", reason="the round trip needs the whisper pack")

PARAGRAPH = (
    "The weather was calm on Tuesday morning, so the crew left the harbor early. "
    "At midday they had filled two baskets with fresh fish. "
    "On the way back, a strong wind pushed the small boat toward the rocks, "
    "but the captain kept a steady hand and brought everyone home safely."
)


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


@pytest.mark.parametrize("response_format", ["mp3", "wav"])
def test_whisper_hears_what_piper_said(client: OpenAI, response_format: str) -> None:
    speech = client.audio.speech.create(
        model="tts-1", voice="alloy", input=PARAGRAPH, response_format=response_format
    )
    transcript = client.audio.transcriptions.create(
        model="whisper-1",
        file=(f"speech.{response_format}", speech.content),
        language="en",
        temperature=0.0,
    )
    error = jiwer.wer(normalise(PARAGRAPH), normalise(transcript.text))
    assert error <= 0.10, (error, transcript.text)
