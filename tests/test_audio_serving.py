"""The core's audio serving pieces without a model: form fields, subtitles, stream deltas."""

from __future__ import annotations

import io

import pytest
import srt
import webvtt

from multai_core.plugin_api import InvalidRequest, TranscribedSegment, TranscriptionTask
from multai_core.protocol.audio import TranscriptionForm, TranslationForm, language_name
from multai_core.serving.audio import DeltaText, full_text, parse_form, to_srt, to_vtt


def segment(n: int, start: float, end: float, text: str) -> TranscribedSegment:
    return TranscribedSegment(id=n, seek=0, start=start, end=end, text=text)


def test_form_fields_as_the_sdk_and_curl_send_them() -> None:
    form = parse_form(
        {
            "model": ["whisper-1"],
            "temperature": ["0.2"],
            "timestamp_granularities[]": ["word", "segment"],
            "stream": ["true"],
            "language": ["en-US"],
            "priority": ["0"],
            "chunking_strategy": ["auto"],  # known to OpenAI, not here: ignored
            "prompt": [""],  # empty counts as absent
        },
        TranscriptionForm,
    )
    assert form.model == "whisper-1" and form.temperature == 0.2 and form.stream
    assert form.timestamp_granularities == ["word", "segment"]
    assert form.language == "en" and form.priority == 0 and form.prompt is None


def test_initial_prompt_is_the_prompt() -> None:
    form = parse_form({"model": ["m"], "initial_prompt": ["Acme Corp."]}, TranslationForm)
    assert form.prompt == "Acme Corp." and form.initial_prompt is None


def test_translations_take_no_timestamp_granularities() -> None:
    form = parse_form({"model": ["m"], "timestamp_granularities[]": ["word"]}, TranslationForm)
    assert not hasattr(form, "timestamp_granularities")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({}, "model"),
        ({"model": ["m"], "response_format": ["diarized_json"]}, "response_format"),
        ({"model": ["m"], "temperature": ["-1"]}, "temperature"),
        ({"model": ["m"], "timestamp_granularities[]": ["sentence"]}, "timestamp_granularities"),
    ],
)
def test_bad_fields_name_the_field(fields: dict[str, list[str]], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_form(fields, TranscriptionForm)
    assert caught.value.param == param


def test_subtitles_clean_cue_text_and_count_hours() -> None:
    segments = [
        segment(0, 0.0, 1.5, " First line."),
        segment(1, 1.5, 1.5, "   "),  # nothing said: no cue
        segment(2, 3599.9996, 3725.25, " A --> B\n\nstill the same cue"),
    ]
    text = to_srt(segments)
    cues = list(srt.parse(text, ignore_errors=False))
    assert [c.index for c in cues] == [1, 2]
    assert cues[1].content == "A -> B still the same cue"
    assert "01:00:00,000 --> 01:02:05,250" in text
    vtt = list(webvtt.from_buffer(io.StringIO(to_vtt(segments))))
    assert [c.start for c in vtt] == ["00:00:00.000", "01:00:00.000"]
    assert to_vtt([]) == "WEBVTT\n\n" and to_srt([]) == ""


def test_deltas_join_to_exactly_the_final_text() -> None:
    texts = ["  Hello there. ", "", "   ", " How are you?  ", " Fine."]
    deltas = DeltaText()
    sent = [deltas.add(t) for t in texts]
    segments = [segment(i, i, i + 1, t) for i, t in enumerate(texts)]
    assert (
        "".join(sent)
        == deltas.text()
        == full_text(segments)
        == "Hello there.     How are you?   Fine."
    )
    assert sent[0] == "Hello there." and "" in sent


def test_language_names_as_openai_writes_them() -> None:
    assert language_name("en") == "english"
    assert language_name("haw") == "hawaiian"
    assert language_name("EN") == "english"


def test_task_repr_keeps_content_out_of_logs() -> None:
    task = TranscriptionTask(audio=b"secret audio", prompt="secret prompt")
    assert "secret" not in repr(task)
    assert "secret" not in repr(segment(0, 0, 1, "secret words"))
