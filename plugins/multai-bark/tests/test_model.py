"""Loading, voices, the memory estimate and cancellation, on the tiny Bark in this process."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec
import numpy as np
import pytest
from bark_tiny import HOP, PRESETS, SEGMENT_SAMPLES
from multai_bark import plugin
from multai_bark.estimate import FLOAT16, FLOAT32, estimate_folder, workspace_bytes
from multai_bark.handle import BarkHandle, load
from multai_bark.options import OPENAI_VOICES, BarkOptions, voice_table
from multai_bark.safetensors_header import read_tensors, weight_bytes
from multai_bark.stages import SILENT_SEGMENT_S, BarkStages
from multai_bark.synthesis import speak
from multai_bark.voices import PRESET_LIBRARY, VoiceLibrary

from multai_core import plugin_api
from multai_core.plugin_api import (
    InvalidRequest,
    ModelSpec,
    Placement,
    ServiceUnavailable,
    SpeechAudio,
    SpeechDone,
    SpeechStart,
    SpeechTask,
    Task,
    VoiceCatalog,
    VoicesTask,
)

CPU = Placement(kind="cpu")


def spec(path: Path, **options: object) -> ModelSpec:
    return ModelSpec(
        name="tiny", backend="bark", path=str(path), options={"torch_threads": 1, **options}
    )


@pytest.fixture(scope="module")
def handle(tiny_bark: Path) -> Iterator[BarkHandle]:
    loaded = load(spec(tiny_bark, do_sample=False, max_segment_chars=25), CPU)
    yield loaded
    loaded.close()


def model_bytes(model: object) -> int:
    seen: set[int] = set()
    total = 0
    for tensor in [*model.parameters(), *model.buffers()]:  # type: ignore[attr-defined]
        if tensor.data_ptr() not in seen:
            seen.add(tensor.data_ptr())
            total += tensor.numel() * tensor.element_size()
    return total


def test_load_uses_float32_on_cpu_and_the_headers_give_the_weights(
    handle: BarkHandle, tiny_bark: Path
) -> None:
    import torch

    assert {p.dtype for p in handle.model.parameters()} == {torch.float32}
    assert handle.sample_rate == 24_000 and handle.device == "cpu"
    assert not handle.model.training
    from_headers = weight_bytes(read_tensors(tiny_bark), FLOAT32)
    assert from_headers == pytest.approx(model_bytes(handle.model), rel=0.01)


def test_estimate_is_weights_plus_the_largest_stage(tiny_bark: Path) -> None:
    tensors = read_tensors(tiny_bark)
    config = json.loads((tiny_bark / "config.json").read_text())
    generation = json.loads((tiny_bark / "generation_config.json").read_text())
    estimate = estimate_folder(tiny_bark)
    assert estimate.cpu_bytes > weight_bytes(tensors, FLOAT32) + workspace_bytes(
        config, generation, FLOAT32
    )
    assert estimate.gpu_bytes > weight_bytes(tensors, FLOAT16) + workspace_bytes(
        config, generation, FLOAT16
    )
    assert weight_bytes(tensors, FLOAT16) < weight_bytes(tensors, FLOAT32)
    # a longer generation needs more scratch (the real models speak 768 semantic tokens)
    longer = {
        **generation,
        "semantic_config": {**generation["semantic_config"], "max_new_tokens": 768},
    }
    assert workspace_bytes(config, longer, FLOAT32) > workspace_bytes(config, generation, FLOAT32)
    via_hook = plugin.multai_estimate_memory(spec=spec(tiny_bark))
    assert via_hook == estimate


def test_pickled_weights_are_refused_before_anything_loads(tmp_path: Path, tiny_bark: Path) -> None:
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_bark, folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not even a pickle")
    with pytest.raises(ServiceUnavailable, match="pickled weights"):
        estimate_folder(folder)
    with pytest.raises(ServiceUnavailable, match="pickled weights"):
        load(spec(folder), CPU)


def test_bad_options_fail_with_the_field_named(tiny_bark: Path) -> None:
    with pytest.raises(ServiceUnavailable, match="max_segment_chars"):
        plugin.multai_estimate_memory(spec=spec(tiny_bark, max_segment_chars=5))
    with pytest.raises(ServiceUnavailable, match="bogus"):
        plugin.multai_estimate_memory(spec=spec(tiny_bark, bogus=1))
    # transformers fails on a zero at every request (a 500 each); 1.5 is no probability
    for field, value in (("min_eos_p", 0.0), ("min_eos_p", 1.5), ("fine_temperature", 0.0)):
        with pytest.raises(ServiceUnavailable, match=field):
            load(spec(tiny_bark, **{field: value}), CPU)


def library(root: Path, **options: object) -> VoiceLibrary:
    parsed = msgspec.convert(options, BarkOptions)
    return VoiceLibrary.from_folder(root, voice_table(parsed), parsed.default_voice, "tiny")


def test_voice_resolution(tiny_bark: Path) -> None:
    voices = library(tiny_bark)
    assert voices.presets == list(PRESETS)
    assert voices.resolve("announcer") == "announcer"
    assert voices.resolve("alloy") == OPENAI_VOICES["alloy"] == "v2/en_speaker_6"
    assert set(OPENAI_VOICES) == set(plugin_api.OPENAI_VOICES)  # every OpenAI name speaks
    assert voices.resolve("Nova") == "v2/en_speaker_9"
    assert voices.resolve(None) == "v2/en_speaker_6"
    with pytest.raises(InvalidRequest, match="does not carry"):
        voices.resolve("onyx")
    with pytest.raises(InvalidRequest, match="GET /v1/audio/voices") as caught:
        voices.resolve("../../etc/passwd")
    assert caught.value.param == "voice"
    assert library(tiny_bark, default_voice="onyx").resolve(None) == PRESETS[0]
    arrays = voices.arrays("announcer")
    assert {k: v.ndim for k, v in arrays.items()} == {
        "semantic_prompt": 1,
        "coarse_prompt": 2,
        "fine_prompt": 2,
    }


def test_the_backend_lists_voices_from_the_folder_alone(tiny_bark: Path) -> None:
    listed = plugin.voices(spec(tiny_bark, voices={"narrator": "announcer"}))
    by_id = {v.id: v for v in listed}
    assert list(by_id) == list(PRESETS)
    assert by_id["announcer"].openai_names == ["narrator"]
    assert by_id["v2/en_speaker_6"].language == "en"
    assert by_id["v2/en_speaker_6"].openai_names == ["alloy"]
    with pytest.raises(ServiceUnavailable, match="bogus"):
        plugin.voices(spec(tiny_bark, bogus=1))


def test_voice_library_stays_in_its_folder(tmp_path: Path, tiny_bark: Path) -> None:
    folder = tmp_path / "escape"
    shutil.copytree(tiny_bark, folder)
    entries = json.loads((folder / PRESET_LIBRARY).read_text())
    entries["evil"] = {key: "../outside.npy" for key in entries["announcer"]}
    entries["pickle"] = dict(entries["announcer"], fine_prompt="objects.npy")
    (folder / PRESET_LIBRARY).write_text(json.dumps(entries))
    np.save(folder / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    voices = library(folder)
    with pytest.raises(ServiceUnavailable, match="leaves the model folder"):
        voices.arrays("evil")
    with pytest.raises(ServiceUnavailable, match="cannot be read"):
        voices.arrays("pickle")
    (folder / PRESET_LIBRARY).unlink()
    with pytest.raises(ServiceUnavailable, match=PRESET_LIBRARY):
        library(folder)


def request(text: str) -> SpeechTask:
    return SpeechTask(text=text, voice="alloy", response_format="pcm")


TEXT = "One sentence here. Another sentence there. A third one follows. And a fourth."


def test_speak_yields_start_audio_done(handle: BarkHandle) -> None:
    items = list(speak(handle, request(TEXT), threading.Event()))
    start, *audio, done = items
    assert isinstance(start, SpeechStart) and start.segments == 4
    assert all(isinstance(a, SpeechAudio) for a in audio) and len(audio) == 5
    assert isinstance(done, SpeechDone)
    pcm = b"".join(a.data for a in audio)  # type: ignore[attr-defined]
    assert len(pcm) // 2 == 4 * SEGMENT_SAMPLES + 3 * round(0.2 * 24_000)
    assert done.audio_seconds == pytest.approx(len(pcm) / 2 / 24_000)
    assert done.input_tokens > 0 and done.output_tokens > 0


def test_cancel_stops_between_sentences(handle: BarkHandle) -> None:
    cancel = threading.Event()
    produced = []
    for item in speak(handle, request(TEXT), cancel):
        produced.append(item)
        if isinstance(item, SpeechAudio):
            cancel.set()  # the client went away after the first sentence
    assert [type(i) for i in produced] == [SpeechStart, SpeechAudio]


def test_infer_dispatches_on_the_payload(handle: BarkHandle) -> None:
    def task(payload: object) -> Task:
        return Task(id="t", kind="speech", model="tiny", payload=payload)

    catalog = plugin.multai_infer(handle=handle, task=task(VoicesTask()), cancel=threading.Event())
    assert isinstance(catalog, VoiceCatalog)
    assert [v.id for v in catalog.voices] == list(PRESETS)
    with pytest.raises(InvalidRequest, match="speech only"):
        plugin.multai_infer(handle=handle, task=task("hello"), cancel=threading.Event())


def test_cancel_set_before_a_generation_returns_nothing(handle: BarkHandle) -> None:
    cancel = threading.Event()
    cancel.set()
    assert handle.generate("Hello there.", "announcer", cancel) is None


def test_float16_path_runs_on_cpu(tiny_bark: Path) -> None:
    """The GPU path's dtype (float16) through the same handle code, on the CPU."""
    import torch
    from transformers import AutoTokenizer, BarkModel

    model = BarkModel.from_pretrained(tiny_bark, dtype=torch.float16, use_safetensors=True).eval()
    half = BarkHandle(
        name="tiny",
        model=model,
        tokenizer=AutoTokenizer.from_pretrained(tiny_bark),
        voices=library(tiny_bark),
        options=BarkOptions(do_sample=False),
        device="cpu",
    )
    assert weight_bytes(read_tensors(tiny_bark), FLOAT16) == pytest.approx(
        model_bytes(model), rel=0.01
    )
    generated = half.generate("Hello there.", "announcer", threading.Event())
    assert generated is not None and generated.audio.dtype == np.float32
    assert generated.audio.size == SEGMENT_SAMPLES and np.isfinite(generated.audio).all()


def test_the_decode_step_takes_any_number_of_frames(handle: BarkHandle) -> None:
    """Zero frames (Encodec's convolution would raise) give a short silence; one frame, the
    least the semantic stage can leave, decodes through the real codec."""
    import torch

    stages = BarkStages(handle.model)
    codebooks = handle.model.generation_config.fine_acoustics_config["n_fine_codebooks"]
    with torch.inference_mode():
        nothing = stages.decode(torch.zeros((1, codebooks, 0), dtype=torch.long), 24_000)
        one = stages.decode(torch.ones((1, codebooks, 1), dtype=torch.long), 24_000)
    assert nothing.size == round(SILENT_SEGMENT_S * 24_000) and not nothing.any()
    assert one.size == HOP and np.isfinite(one).all() and one.dtype == np.float32


def test_a_preset_made_for_another_model_is_named_not_a_crash(
    tmp_path: Path, tiny_bark: Path
) -> None:
    folder = tmp_path / "foreign"
    shutil.copytree(tiny_bark, folder)
    entries = json.loads((folder / PRESET_LIBRARY).read_text())
    announcer = entries["announcer"]
    arrays = {key: np.load(folder / name) for key, name in announcer.items()}
    foreign = {
        "few-codebooks": ("fine_prompt", arrays["fine_prompt"][:2]),
        "big-codes": ("semantic_prompt", arrays["semantic_prompt"] + 1000),
        "negative-codes": ("coarse_prompt", arrays["coarse_prompt"] - 100),
    }
    for name, (key, array) in foreign.items():
        np.save(folder / f"{name}.npy", array)
        entries[name] = dict(announcer, **{key: f"{name}.npy"})
    (folder / PRESET_LIBRARY).write_text(json.dumps(entries))
    loaded = load(spec(folder, do_sample=False), CPU)
    try:
        for name, problem in (
            ("few-codebooks", "fine_prompt has 2 codebooks where the model has 8"),
            ("big-codes", "semantic_prompt holds codes outside 0-31"),
            ("negative-codes", "coarse_prompt holds codes outside 0-15"),
        ):
            with pytest.raises(ServiceUnavailable, match=f"'{name}' of model 'tiny'.*{problem}"):
                loaded.generate("Hello there.", name, threading.Event())
        assert loaded.generate("Hello there.", "announcer", threading.Event()) is not None
    finally:
        loaded.close()


def test_the_stages_speak_as_bark_model_generate_does(tmp_path: Path, tiny_bark: Path) -> None:
    """Run one by one, the stages give BarkModel.generate's samples, with a folder whose
    min_eos_p (ignored by BarkModel.generate) would otherwise end generations early."""
    import torch

    folder = tmp_path / "eos"
    shutil.copytree(tiny_bark, folder)
    config_file = folder / "generation_config.json"
    generation = json.loads(config_file.read_text())
    generation["semantic_config"].update(min_new_tokens=5, min_eos_p=0.001)
    config_file.write_text(json.dumps(generation))
    loaded = load(spec(folder, do_sample=False, fine_temperature=0.7), CPU)
    try:
        encoded = loaded.tokenizer(
            "Hello there.",
            return_tensors="pt",
            padding="max_length",
            max_length=loaded.max_input_tokens,
            add_special_tokens=False,
            return_attention_mask=True,
        )
        history = {
            key: torch.from_numpy(array) for key, array in loaded.voices.arrays("announcer").items()
        }
        torch.manual_seed(3)  # the fine stage samples at this temperature
        reference = loaded.model.generate(
            input_ids=encoded["input_ids"],
            attention_mask=encoded["attention_mask"],
            history_prompt=history,
            do_sample=False,
            fine_temperature=0.7,
        )[0].numpy()
        torch.manual_seed(3)
        generated = loaded.generate("Hello there.", "announcer", threading.Event())
    finally:
        loaded.close()
    assert generated is not None
    np.testing.assert_array_equal(generated.audio, reference)
