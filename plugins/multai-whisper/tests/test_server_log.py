"""The server's log with Whisper loaded: faster-whisper's own INFO lines (the detected language
and the audio's duration: facts about the content) stay out, and every line is JSON."""

from __future__ import annotations

import json

from openai import OpenAI
from speech_fixtures import fixture_path
from whisper_server import Server


def test_no_faster_whisper_info_lines(server: Server, client: OpenAI) -> None:
    with fixture_path("en_invoice.wav").open("rb") as audio:
        client.audio.transcriptions.create(model="whisper-1", file=audio)  # language detected
    lines = server.log.read_text(encoding="utf-8").splitlines()
    raw = [line for line in lines if not line.startswith("{")]
    assert not raw, raw
    events = [json.loads(line) for line in lines]
    assert any(e["event"] == "inference_finished" and e.get("kind") for e in events)
    chatter = [e for e in events if str(e.get("logger", "")).startswith("faster_whisper")]
    assert not chatter, chatter
    text = "\n".join(lines)
    assert "Detected language" not in text and "Processing audio" not in text
