"""The pack's parts without the model: cutting long sentences, the voice table of a
multi-speaker voice, the speed arithmetic and the encoders on a synthetic tone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from multai_piper.encoding import open_encoder
from multai_piper.options import CPU_THREADS_ENV, PiperOptions, resolve_cpu_threads
from multai_piper.pieces import piece_limit, split_phonemes
from multai_piper.tempo import natural_samples, pace
from multai_piper.time_stretch import stretch
from multai_piper.voice_files import read_voice
from multai_piper.voices import VoiceTable, describe
from piper_audio import decode

from multai_core.plugin_api import InvalidRequest, ModelSpec, ServiceUnavailable

RATE = 22_050


def test_threads_come_from_options_then_env_then_placement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CPU_THREADS_ENV, raising=False)
    assert resolve_cpu_threads(PiperOptions()) == 0  # onnxruntime's default
    assert resolve_cpu_threads(PiperOptions(), 3) == 3  # a Ray replica's three CPUs
    assert resolve_cpu_threads(PiperOptions(cpu_threads=2), 3) == 2
    monkeypatch.setenv(CPU_THREADS_ENV, "1")
    assert resolve_cpu_threads(PiperOptions(), 3) == 1


def test_short_sentences_stay_whole() -> None:
    phonemes = list("hɛloʊ wɝld.")
    assert split_phonemes(phonemes, 200) == [phonemes]


def test_long_sentences_are_cut_at_clauses_then_words() -> None:
    clause = list("ænd ðɛn ðə fɒks ræn, ")
    phonemes = clause * 20
    pieces = split_phonemes(phonemes, 100)
    assert all(len(p) <= 100 for p in pieces)
    assert all(p[-1] == "," for p in pieces[:-1])
    assert "".join("".join(p) for p in pieces).replace(" ", "") == "".join(phonemes).replace(
        " ", ""
    )
    words = list("wɝd ") * 60
    pieces = split_phonemes(words, 50)
    assert all(len(p) <= 50 and p[-1] == "d" for p in pieces)
    assert split_phonemes(list("x" * 25), 10) == [list("x" * 10)] * 2 + [list("x" * 5)]


def test_the_piece_limit_shrinks_as_the_pace_slows() -> None:
    assert piece_limit(200, 1.0) == 200
    assert piece_limit(200, 0.5) == 200  # faster speech: less audio per phoneme
    assert piece_limit(200, 2.0) == 100
    assert piece_limit(40, 100.0) == 10


def write_voice(folder: Path, speakers: dict[str, int], **extra: object) -> ModelSpec:
    config = {
        "audio": {"sample_rate": 16_000},
        "espeak": {"voice": "de"},
        "num_speakers": max(len(speakers), 1),
        "speaker_id_map": speakers,
        **extra,
    }
    (folder / "de_DE-test-low.onnx").write_bytes(b"\0" * 1000)
    (folder / "de_DE-test-low.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    return ModelSpec(name="test", backend="piper", path=str(folder))


def test_a_multi_speaker_voice_lists_one_voice_per_speaker(tmp_path: Path) -> None:
    spec = write_voice(tmp_path, {"karl": 1, "anna": 0}, default_speaker_id=1)
    voice = read_voice(spec, PiperOptions())
    assert (voice.name, voice.sample_rate, voice.language) == ("de_DE-test-low", 16_000, "de")
    table = VoiceTable(voice, PiperOptions(voices={"alloy": "anna"}), "test")
    assert [v.id for v in table.catalog()] == ["anna", "karl"]
    assert table.resolve(None).speaker_id == 1  # the file's default speaker
    assert table.resolve("alloy").speaker_id == 0
    assert table.resolve("echo").id == "karl"
    with pytest.raises(InvalidRequest, match="Unknown voice"):
        table.resolve("bob")
    listed = {v.id: v.openai_names for v in describe(spec)}
    assert "alloy" in listed["karl"] and listed["anna"] == []


def test_a_bad_default_voice_is_a_config_error(tmp_path: Path) -> None:
    spec = write_voice(tmp_path, {})
    voice = read_voice(spec, PiperOptions())
    assert VoiceTable(voice, PiperOptions(), "test").resolve(None).id == "de_DE-test-low"
    with pytest.raises(ServiceUnavailable, match="default_voice 'bob'"):
        VoiceTable(voice, PiperOptions(default_voice="bob"), "test")


def test_natural_length_undoes_the_length_scale_above_the_rounding() -> None:
    # 100 ids of 2.0 frames each, hop 256: 200 frames at pace 1, each rounded up by 0.5 frame
    ids, hop = 100, 256
    at_pace_1 = (100 * 2.0 + 50) * hop
    at_pace_2 = (100 * 1.0 + 50) * hop  # the length scale halves the durations, not the rounding
    assert natural_samples(int(at_pace_2), ids, hop, 2.0) == pytest.approx(at_pace_1)
    assert pace(4.0) == 2.0 and pace(0.25) == 0.5 and pace(1.3) == 1.3


@pytest.mark.parametrize("tempo", [0.3, 0.8, 2.5])
def test_stretch_changes_the_length_not_the_pitch(tempo: float) -> None:
    t = np.arange(RATE * 2) / RATE
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = stretch(tone, RATE, tempo)
    assert out.size / tone.size == pytest.approx(1 / tempo, rel=0.03)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(out.size)))
    assert np.argmax(spectrum) * RATE / out.size == pytest.approx(440, abs=5)


@pytest.mark.parametrize("response_format", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_encoders_stream_pieces_that_make_one_file(response_format: str) -> None:
    t = np.arange(RATE * 3) / RATE
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    encoder = open_encoder(response_format, RATE)
    parts = [encoder.encode(tone[i : i + 7000]) for i in range(0, tone.size, 7000)]
    parts.append(encoder.finish())
    encoder.close()
    if response_format not in ("flac",):
        assert parts[0], "the first piece leaves the encoder at once"
    rate, samples = decode(b"".join(parts), response_format)
    assert samples.size / rate == pytest.approx(3.0, abs=0.1)
    assert np.abs(samples).max() > 0.3


def test_pcm_and_wav_hold_the_same_samples() -> None:
    tone = np.linspace(-1.0, 1.0, 1000, dtype=np.float32)
    pcm = open_encoder("pcm", RATE).encode(tone)
    wav = open_encoder("wav", RATE)
    data = wav.encode(tone) + wav.finish()
    assert data[44:] == pcm and data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
