"""The memory estimate: read from the model.bin header (split or whole), priced for the compute
type each placement uses, with no CTranslate2 import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from multai_whisper.ct2_header import read_header
from multai_whisper.estimate import estimate, estimate_from_header, weight_bytes
from multai_whisper.options import (
    CPU_THREADS_ENV,
    WhisperOptions,
    compute_type_for,
    parse_options,
    resolve_cpu_threads,
)
from multai_whisper.packaged import MODEL_FILE, ensure_assembled, find_packaged

from multai_core.plugin_api import ModelSpec, Placement

MiB = 2**20


@pytest.fixture(scope="module")
def parts() -> list[Path]:
    packaged = find_packaged()
    assert packaged is not None
    return list(packaged.parts)


def test_header_of_the_split_file_is_whisper_base(parts: list[Path]) -> None:
    header = read_header(parts)
    assert header.spec_name == "WhisperSpec"
    assert (header.d_model, header.encoder_heads) == (512, 8)
    assert (header.layers("encoder"), header.layers("decoder")) == (6, 6)
    assert header.file_bytes == sum(p.stat().st_size for p in parts)
    embeddings = header.find("decoder/embeddings/weight")
    assert embeddings is not None and embeddings.shape == (51865, 512)
    assert embeddings.dtype == "float16"


def test_split_and_assembled_headers_agree(parts: list[Path], tmp_path: Path) -> None:
    packaged = find_packaged()
    assert packaged is not None
    folder = ensure_assembled(packaged, tmp_path / "m")
    assert read_header([folder / MODEL_FILE]) == read_header(parts)


def test_weights_priced_per_compute_type(parts: list[Path]) -> None:
    header = read_header(parts)
    stored = sum(v.nbytes for v in header.variables)
    float16 = weight_bytes(header, "float16")
    assert float16 == pytest.approx(stored, rel=0.001)  # the file is float16 already
    assert weight_bytes(header, "float32") == pytest.approx(2 * float16, rel=0.01)
    int8 = weight_bytes(header, "int8")
    assert 0.5 * float16 < int8 < 0.56 * float16  # int8 matrices, float32 biases and scales
    assert weight_bytes(header, "int8_float16") < int8


def test_cpu_and_gpu_estimates(parts: list[Path]) -> None:
    header = read_header(parts)
    default = estimate_from_header(header, WhisperOptions())
    assert 400 * MiB < default.cpu_bytes < 900 * MiB
    assert default.gpu_bytes < default.cpu_bytes and default.supports_gpu
    assert default.layers == 0  # Whisper is not split between GPU and CPU
    float32 = estimate_from_header(header, WhisperOptions(cpu_compute_type="float32"))
    assert float32.cpu_bytes - default.cpu_bytes == pytest.approx(
        weight_bytes(header, "float32") - weight_bytes(header, "int8")
    )
    smaller = estimate_from_header(header, WhisperOptions(gpu_compute_type="int8_float16"))
    assert smaller.gpu_bytes < default.gpu_bytes
    longer = estimate_from_header(header, WhisperOptions(working_audio_seconds=3600))
    assert longer.cpu_bytes > default.cpu_bytes


def test_compute_type_follows_the_placement() -> None:
    options = WhisperOptions()
    assert compute_type_for(options, Placement(kind="cpu")) == "int8"
    gpu = Placement(kind="gpu", device="cuda:0", gpu_index=0)
    assert compute_type_for(options, gpu) == "float16"
    assert compute_type_for(WhisperOptions(gpu_compute_type="int8_float16"), gpu) == "int8_float16"


def test_threads_come_from_options_then_env_then_placement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CPU_THREADS_ENV, raising=False)
    assert resolve_cpu_threads(WhisperOptions(), Placement(kind="cpu")) == 0  # CTranslate2's
    replica = Placement(kind="cpu", cpu_threads=3)
    assert resolve_cpu_threads(WhisperOptions(), replica) == 3
    assert resolve_cpu_threads(WhisperOptions(cpu_threads=2), replica) == 2
    monkeypatch.setenv(CPU_THREADS_ENV, "1")
    assert resolve_cpu_threads(WhisperOptions(), replica) == 1


def test_estimate_hook_input_before_assembly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MULTAI_CACHE_DIR", str(tmp_path))
    from multai_whisper.default_model import default_models

    (spec,) = default_models()
    assert not Path(spec.path).exists()
    assert estimate(spec).cpu_bytes > 300 * MiB  # from the packaged parts' header
    assert not Path(spec.path).exists()


def test_bad_options_and_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="beam_size"):
        parse_options({"beam_size": 0})
    with pytest.raises(ValueError, match="unknown field"):
        parse_options({"beam": 3})
    (tmp_path / MODEL_FILE).write_bytes(b"\x06\x00\x00\x00\x05")
    with pytest.raises(ValueError, match="header"):
        estimate(ModelSpec(name="broken", backend="whisper", path=str(tmp_path)))


def test_estimating_imports_no_runtime(parts: list[Path]) -> None:
    code = (
        "import sys, multai_whisper.plugin as p\n"
        "from multai_whisper.default_model import default_models\n"
        "p.multai_estimate_memory(spec=default_models()[0])\n"
        "heavy = {'torch', 'ctranslate2', 'faster_whisper', 'av', 'numpy'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
