"""The pieces under the endpoint: splitting text, joining, speed, encoding."""

from __future__ import annotations

import numpy as np
import pytest
from bark_audio import decode, dominant_hz
from multai_bark.encoding import CONTAINERS, AudioEncoder
from multai_bark.joining import join_next, shape_segment
from multai_bark.sentences import split_text
from multai_bark.tempo import TempoStretcher, tempo_stages

RATE = 24_000


def sine(hz: float, seconds: float, phase: float = 0.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t + phase)).astype(np.float32)


def test_sentences_split_at_boundaries_not_abbreviations() -> None:
    text = "Dr. Smith arrived at 9.30 a.m. on Monday. Was he late? No! He was early."
    assert split_text(text, 45) == [
        "Dr. Smith arrived at 9.30 a.m. on Monday.",
        "Was he late? No! He was early.",
    ]
    assert split_text(text, 20) == [
        "Dr. Smith arrived at",
        "9.30 a.m. on Monday.",
        "Was he late? No!",
        "He was early.",
    ]
    assert split_text(text, 200) == [text]


def test_long_sentences_are_cut_at_clauses_then_words_and_nothing_is_lost() -> None:
    text = (
        "When the reading room closes, usually at eight, the lights dim slowly; "
        "visitors should then gather their belongings and leave through the east door "
        + "without " * 40
        + "delay."
    )
    pieces = split_text(text, 80)
    assert all(len(p) <= 80 for p in pieces)
    assert pieces[0] == "When the reading room closes, usually at eight, the lights dim slowly;"
    assert " ".join(pieces).split() == text.split()


def test_cjk_and_paragraphs_end_sentences() -> None:
    first, second = "\u7b2c\u4e00\u53e5\u3002", "\u7b2c\u4e8c\u53e5\uff01"  # two CJK sentences
    assert split_text(first + second, 4) == [first, second]
    assert split_text("A heading\n\nThe body text.", 200) == ["A heading", "The body text."]
    assert split_text("one line\nwrapped here.", 200) == ["one line wrapped here."]


def test_joined_segments_have_no_clicks() -> None:
    # two tones that stop and start mid-wave: a plain concatenation jumps by up to 1.0
    first, second = sine(440, 0.5, phase=1.0), sine(660, 0.5, phase=2.5) + np.float32(0.2)
    joined = np.concatenate(
        [
            join_next(first, RATE, first=True, pause_s=0.1),
            join_next(second, RATE, first=False, pause_s=0.1),
        ]
    )
    assert joined.size == first.size + second.size + int(0.1 * RATE)
    largest_step_in_a_tone = 2 * np.pi * 660 / RATE * 0.5
    assert np.abs(np.diff(joined)).max() <= largest_step_in_a_tone * 1.01
    assert joined[0] == 0 and joined[-1] == 0
    assert abs(shape_segment(second, RATE).mean()) < 1e-3  # the offset is gone


@pytest.mark.parametrize("speed", [0.25, 0.5, 1.5, 2.0, 4.0])
def test_speed_keeps_the_pitch(speed: float) -> None:
    tone = sine(440, 2.0)
    stretcher = TempoStretcher(RATE, speed)
    pieces = [stretcher.push(part) for part in np.array_split(tone, 5)]
    out = np.concatenate([*pieces, stretcher.flush()])
    assert out.size == pytest.approx(tone.size / speed, rel=0.03)
    assert dominant_hz(out, RATE) == pytest.approx(440, abs=3)
    assert tempo_stages(0.25) == [0.5, 0.5]


def test_speed_one_passes_samples_through() -> None:
    tone = sine(440, 0.5)
    stretcher = TempoStretcher(RATE, 1.0)
    assert stretcher.push(tone) is tone and stretcher.flush().size == 0


@pytest.mark.parametrize("response_format", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_encoder_round_trip_and_streaming(response_format: str) -> None:
    tone = sine(440, 3.0)
    encoder = AudioEncoder(response_format, RATE)
    pieces = [encoder.encode(part) for part in np.array_split(tone, 3)]
    pieces.append(encoder.finish())
    streamed = response_format == "pcm" or CONTAINERS[response_format].streamed
    if streamed:
        assert pieces[0] and pieces[1], "bytes leave with each piece, not only at the end"
    else:
        assert pieces[:3] == [b"", b"", b""], "flac is written whole, with a complete header"
    rate, samples = decode(b"".join(pieces), response_format)
    assert rate == RATE
    assert samples.size / rate == pytest.approx(3.0, abs=0.1)
    assert dominant_hz(samples, rate) == pytest.approx(440, abs=3)


def test_encoder_close_without_finish_is_safe() -> None:
    encoder = AudioEncoder("mp3", RATE)
    encoder.encode(sine(440, 0.2))
    encoder.close()
    encoder.close()
