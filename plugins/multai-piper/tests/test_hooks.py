"""The pack through its hooks, in-process with the real joe voice: registration, an estimate
that imports no runtime, load / infer / unload, voices, errors and cancellation."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pluggy
import pytest
from multai_piper.handle import PiperHandle
from multai_piper.options import PiperOptions

from multai_core.plugin_api import (
    Backend,
    InvalidRequest,
    ModelSpec,
    Placement,
    ServiceUnavailable,
    SpeechAudio,
    SpeechDone,
    SpeechStart,
    SpeechTask,
    Task,
    TranscriptionTask,
    VoiceCatalog,
    VoicesTask,
)

PARAGRAPH = (
    "The first sentence is short. The second one follows it. A third closes the list. "
    "And a fourth, for good measure."
)


def infer(
    pm: pluggy.PluginManager, handle: Any, payload: Any, cancel: threading.Event | None = None
) -> Any:
    task = Task(id="t1", kind="speech", model="piper-joe", payload=payload)
    return pm.hook.multai_infer(handle=handle, task=task, cancel=cancel or threading.Event())


def test_the_entry_point_names_the_plugin_module() -> None:
    (entry,) = [e for e in importlib.metadata.entry_points(group="multai") if e.name == "piper"]
    assert entry.value == "multai_piper.plugin"


def test_registers_the_backend_with_the_packaged_voice(pm: pluggy.PluginManager) -> None:
    found: list[Backend] = []
    pm.hook.multai_register_backends(register=found.append)
    (backend,) = found
    assert (backend.name, backend.tasks, backend.options_type) == (
        "piper",
        {"speech"},
        PiperOptions,
    )
    (model,) = backend.default_models
    assert model.name == "piper-joe" and "tts-1" in model.aliases
    assert Path(model.path).name == "en_US-joe-medium.onnx"
    assert backend.voices is not None
    (voice,) = backend.voices(model)
    assert (voice.id, voice.language) == ("joe", "en")
    assert "alloy" in voice.openai_names


def test_estimate_and_voices_import_neither_piper_nor_onnxruntime() -> None:
    code = (
        "import sys, multai_piper.plugin as p\n"
        "from multai_piper.default_model import default_models\n"
        "from multai_core.plugin_api import DeviceSnapshot\n"
        "spec = default_models()[0]\n"
        "e = p.multai_estimate_memory(spec=spec)\n"
        "p.describe(spec)\n"
        "heavy = {'piper', 'onnxruntime', 'av', 'numpy', 'torch'}\n"
        "print(e.cpu_bytes, sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    cpu_bytes, imported = out.split(" ", 1)
    assert imported.strip() == "[]"
    # the session (1.5 x the 63 MB file), the runtime and one 12 s piece
    assert 300 * 2**20 < int(cpu_bytes) < 900 * 2**20


def test_estimate_grows_with_the_piece_length_and_concurrency(
    pm: pluggy.PluginManager, joe: ModelSpec
) -> None:
    from msgspec.structs import replace

    def cpu(spec: ModelSpec) -> int:
        estimate = pm.hook.multai_estimate_memory(spec=spec, devices=None)
        assert estimate.supports_gpu is False  # onnxruntime-gpu is not installed here
        return int(estimate.cpu_bytes)

    base = cpu(joe)
    assert cpu(replace(joe, options={"max_piece_phonemes": 400})) > base
    assert cpu(replace(joe, max_concurrency=2)) > base


def test_a_missing_voice_file_is_a_clear_error(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    spec = ModelSpec(name="nothing", backend="piper", path=str(tmp_path / "none.onnx"))
    with pytest.raises(ServiceUnavailable, match="no Piper voice"):
        pm.hook.multai_estimate_memory(spec=spec, devices=None)
    (tmp_path / "voice.onnx").write_bytes(b"")
    spec = ModelSpec(name="no-config", backend="piper", path=str(tmp_path))
    with pytest.raises(ServiceUnavailable, match=r"voice config .* is missing"):
        pm.hook.multai_load(spec=spec, placement=Placement(kind="cpu"))


def test_speaks_in_chunks_start_audio_done(pm: pluggy.PluginManager, handle: PiperHandle) -> None:
    chunks = list(infer(pm, handle, SpeechTask(text=PARAGRAPH, response_format="wav")))
    start, *audio, done = chunks
    assert start == SpeechStart(segments=4, sample_rate=22_050, voice="joe")
    assert all(isinstance(c, SpeechAudio) for c in audio) and len(audio) == 5  # 4 + trailer
    assert isinstance(done, SpeechDone) and done.segments == 4
    assert 4.0 < done.audio_seconds < 15.0
    assert done.input_tokens > 100  # phoneme ids
    data = b"".join(c.data for c in audio)
    assert data[:4] == b"RIFF"
    assert len(data) == 44 + 2 * round(done.audio_seconds * 22_050)


def test_lists_voices_from_a_loaded_model(pm: pluggy.PluginManager, handle: PiperHandle) -> None:
    catalog = infer(pm, handle, VoicesTask())
    assert isinstance(catalog, VoiceCatalog)
    assert [v.id for v in catalog.voices] == ["joe"]


@pytest.mark.parametrize("voice", [None, "joe", "alloy", "Nova"])
def test_openai_names_and_the_voice_id_speak(
    pm: pluggy.PluginManager, handle: PiperHandle, voice: str | None
) -> None:
    start = next(iter(infer(pm, handle, SpeechTask(text="Hello.", voice=voice))))
    assert start.voice == "joe"


def test_an_unknown_voice_is_a_400_before_any_audio(
    pm: pluggy.PluginManager, handle: PiperHandle
) -> None:
    with pytest.raises(InvalidRequest, match="Unknown voice 'nobody'") as raised:
        next(iter(infer(pm, handle, SpeechTask(text="Hello.", voice="nobody"))))
    assert (raised.value.param, raised.value.code) == ("voice", "voice_not_found")


def test_text_with_nothing_to_say_is_a_400(pm: pluggy.PluginManager, handle: PiperHandle) -> None:
    with pytest.raises(InvalidRequest, match="nothing to speak"):
        next(iter(infer(pm, handle, SpeechTask(text="   \n  "))))


def test_other_tasks_are_refused(pm: pluggy.PluginManager, handle: PiperHandle) -> None:
    task = Task(
        id="t1", kind="transcription", model="piper-joe", payload=TranscriptionTask(audio=b"")
    )
    with pytest.raises(InvalidRequest, match="speech only"):
        pm.hook.multai_infer(handle=handle, task=task, cancel=threading.Event())


def test_cancel_stops_between_sentences(pm: pluggy.PluginManager, handle: PiperHandle) -> None:
    cancel = threading.Event()
    chunks = iter(infer(pm, handle, SpeechTask(text=PARAGRAPH, response_format="mp3"), cancel))
    assert isinstance(next(chunks), SpeechStart)
    assert isinstance(next(chunks), SpeechAudio)  # the first sentence
    cancel.set()
    assert list(chunks) == []  # no second sentence, no trailer, no SpeechDone


def test_unload_frees_the_session(pm: pluggy.PluginManager, joe: ModelSpec) -> None:
    loaded = pm.hook.multai_load(spec=joe, placement=Placement(kind="cpu"))
    pm.hook.multai_unload(handle=loaded)
    assert loaded.closed and loaded.voice is None
