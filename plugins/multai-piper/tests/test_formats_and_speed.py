"""The joe voice in every response format, and at every speed, in-process through the hooks."""

from __future__ import annotations

import dataclasses
import threading

import msgspec
import pluggy
import pytest
from multai_piper.handle import PiperHandle
from piper_audio import decode, voiced_seconds

from multai_core.plugin_api import SpeechAudio, SpeechDone, SpeechTask, Task

TEXT = "Piper reads this sentence aloud. Then it reads a second one, a little longer."


def speak(pm: pluggy.PluginManager, handle: PiperHandle, **fields: object) -> tuple[bytes, float]:
    """The file and the audio seconds its SpeechDone reports."""
    payload = SpeechTask(text=TEXT, **fields)  # type: ignore[arg-type]
    task = Task(id="t", kind="speech", model="piper-joe", payload=payload)
    chunks = list(pm.hook.multai_infer(handle=handle, task=task, cancel=threading.Event()))
    done = chunks[-1]
    assert isinstance(done, SpeechDone)
    return b"".join(c.data for c in chunks if isinstance(c, SpeechAudio)), done.audio_seconds


@pytest.mark.parametrize("response_format", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_format_decodes_to_the_spoken_length(
    pm: pluggy.PluginManager, handle: PiperHandle, response_format: str
) -> None:
    data, audio_seconds = speak(pm, handle, response_format=response_format)
    rate, samples = decode(data, response_format)
    assert rate == (48_000 if response_format == "opus" else 22_050)
    # two sentences of about 2.5 s; lossy codecs add their encoder delay and padding
    assert 3.0 < audio_seconds < 9.0
    assert samples.size / rate == pytest.approx(audio_seconds, abs=0.12)
    assert abs(samples).max() > 0.3  # speech, peak-normalised to 0.9


@pytest.mark.parametrize("speed", [0.25, 0.5, 2.0, 4.0])
def test_speed_divides_the_duration(
    pm: pluggy.PluginManager, handle: PiperHandle, speed: float
) -> None:
    # Piper's duration noise makes two runs differ by a few percent: compare speech, not pauses
    normal, _ = speak(pm, handle, response_format="wav")
    changed, _ = speak(pm, handle, response_format="wav", speed=speed)
    ratio = voiced_seconds(changed, "wav") / voiced_seconds(normal, "wav")
    assert ratio == pytest.approx(1 / speed, rel=0.15)


def test_a_sentence_longer_than_a_piece_is_cut(
    pm: pluggy.PluginManager, handle: PiperHandle
) -> None:
    options = msgspec.structs.replace(handle.options, max_piece_phonemes=40)
    short = dataclasses.replace(handle, options=options)
    task = Task(id="t", kind="speech", model="piper-joe", payload=SpeechTask(text=TEXT))
    start = next(iter(pm.hook.multai_infer(handle=short, task=task, cancel=threading.Event())))
    assert start.segments > 2
