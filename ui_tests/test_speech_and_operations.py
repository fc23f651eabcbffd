"""Speech to text with Whisper base from an uploaded WAV, its four views; text to speech with
Piper's joe voice into the page's player; and the operations
view: the model appears after its first request and goes after its keep_alive, both logged as
they happen; devices and request rates are shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import expect

from ui_tests.conftest import STT_MODEL, TTS_MODEL, WHISPER_KEEP_ALIVE_S, Watched

ROOT = Path(__file__).resolve().parent.parent
WAV = ROOT / "plugins/multai-whisper/tests/fixtures/en_invoice.wav"
# "Please send the invoice to our office before Friday. We will pay it next week."


def _transcribe(ui: Watched) -> None:
    page = ui.page
    page.get_by_role("tab", name="Speech").click()
    page.get_by_label("Audio file").set_input_files(WAV)
    page.get_by_role("button", name="Transcribe").click()
    expect(page.locator("#stt-output")).to_contain_text("invoice", timeout=120_000)


def test_an_uploaded_wav_is_transcribed_and_shown_four_ways(ui: Watched, shots: Path) -> None:
    ui.open("#speech")
    page = ui.page
    expect(page.locator("#stt-model")).to_have_value(STT_MODEL)
    _transcribe(ui)
    output = page.locator("#stt-output")
    text = output.inner_text().lower()
    assert "friday" in text and "next week" in text
    ui.shot(shots, "04-speech-text")
    page.get_by_role("tab", name="SRT").click()
    expect(output).to_contain_text("-->")
    assert re.match(r"1\n00:00:00,\d{3} --> 00:00:\d\d,\d{3}\n", output.inner_text())
    ui.shot(shots, "04-speech-srt")
    page.get_by_role("tab", name="VTT").click()
    assert re.match(r"WEBVTT\n\n00:00:00\.\d{3} --> ", output.inner_text())
    page.get_by_role("tab", name="JSON").click()
    result = json.loads(output.inner_text())
    assert result["segments"] and "invoice" in result["text"].lower()
    expect(page.get_by_role("tab", name="JSON")).to_have_attribute("aria-selected", "true")


def test_text_to_speech_plays_in_the_page(ui: Watched, shots: Path) -> None:
    ui.open("#speech")
    page = ui.page
    expect(page.locator("#tts-model")).to_have_value(TTS_MODEL)
    voices = page.locator("#tts-voice option")
    expect(voices).not_to_have_count(0)
    page.get_by_label("Text", exact=True).fill("The invoice is paid.")
    page.get_by_label("Format", exact=True).select_option("wav")
    page.get_by_role("button", name="Speak").click()
    audio = page.locator("#tts-audio")
    expect(audio).to_be_visible(timeout=60_000)
    assert (audio.get_attribute("src") or "").startswith("blob:")
    page.wait_for_function("document.getElementById('tts-audio').duration > 0.5")
    expect(page.get_by_role("link", name="Download")).to_have_attribute("download", "speech.wav")
    ui.shot(shots, "08-text-to-speech")


def test_operations_shows_a_model_come_and_go(ui: Watched, shots: Path) -> None:
    ui.open("#ops")
    page = ui.page
    row = page.locator(f"#ops-resident tbody tr[data-model='{STT_MODEL}']")
    page.locator("#view-ops[data-updated]").wait_for()  # the view has read the server once
    # an earlier test may have loaded it: wait for its keep_alive to end it first
    expect(row).to_have_count(0, timeout=(WHISPER_KEEP_ALIVE_S + 15) * 1000)
    expect(page.locator("#ops-devices meter")).not_to_have_count(0)
    expect(page.locator("#ops-devices")).to_contain_text("RAM")
    _transcribe(ui)
    page.get_by_role("tab", name="Operations").click()
    expect(row).to_have_count(1, timeout=10_000)
    expect(row).to_contain_text("cpu")
    expect(row).to_contain_text(f"{WHISPER_KEEP_ALIVE_S}.0 s")  # its keep_alive
    expect(row).to_contain_text("MiB")
    events = page.locator("#ops-events")
    expect(events).to_contain_text(f"Loaded {STT_MODEL}")
    rates = page.locator(f"#ops-rates li[data-model='{STT_MODEL}']")
    expect(rates).to_contain_text("per minute")
    ui.shot(shots, "06-operations-loaded")
    expect(row).to_have_count(0, timeout=(WHISPER_KEEP_ALIVE_S + 15) * 1000)
    expect(events).to_contain_text(f"Unloaded {STT_MODEL}: idle past its keep_alive")
    ui.shot(shots, "07-operations-unloaded")
