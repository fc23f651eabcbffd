"""The model store: a model is there once its manifest is written, names stay single folders,
and removing deletes both the manifest and the folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from multai_core.store.manifest import MANIFESTS, InvalidModelName, ModelStore, PulledModel


def _pulled(store: ModelStore, name: str, **fields: object) -> PulledModel:
    folder = store.folder_for(name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.gguf").write_bytes(b"GGUF" + bytes(12))
    values: dict[str, object] = {
        "name": name,
        "backend": "echo",
        "path": str(folder / "model.gguf"),
        "source": "owner/repo",
        "revision": "0123456789abcdef0123456789abcdef01234567",
        "files": ("model.gguf",),
        "size_bytes": 16,
        "pulled_at": time.time(),
    } | fields
    return PulledModel(**values)  # type: ignore[arg-type]


def test_reading_an_empty_store_creates_nothing(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    assert store.entries() == []
    assert store.get("anything") is None
    assert not (tmp_path / "models").exists()


def test_a_recorded_model_is_listed_and_read_back(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    second = _pulled(store, "zeta", aliases=("z",), options={"n_ctx": 512}, catalog="zeta-cat")
    first = _pulled(store, "alpha")
    store.record(second)
    store.record(first)
    assert [m.name for m in store.entries()] == ["alpha", "zeta"]
    assert store.get("zeta") == second
    spec = second.spec()
    assert (spec.name, spec.backend, spec.path) == ("zeta", "echo", second.path)
    assert spec.aliases == ("z",) and spec.options == {"n_ctx": 512}


def test_a_folder_without_a_manifest_is_not_in_the_store(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    half = store.folder_for("half")
    half.mkdir()
    (half / "model.gguf.incomplete").write_bytes(b"GG")
    assert store.entries() == [] and store.get("half") is None


def test_record_replaces_atomically_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    store.record(_pulled(store, "m", revision="a" * 40))
    store.record(_pulled(store, "m", revision="b" * 40))
    assert [m.revision for m in store.entries()] == ["b" * 40]
    assert os.listdir(tmp_path / MANIFESTS) == ["m.json"]


def test_a_broken_manifest_is_skipped_not_fatal(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    store.record(_pulled(store, "good"))
    (tmp_path / MANIFESTS / "bad.json").write_text("{not json", encoding="utf-8")
    (tmp_path / MANIFESTS / "other.json").write_bytes(
        (tmp_path / MANIFESTS / "good.json").read_bytes()
    )
    assert [m.name for m in store.entries()] == ["good"]


def test_remove_deletes_the_manifest_and_the_folder(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    model = _pulled(store, "gone")
    store.record(model)
    store.record(_pulled(store, "kept"))
    assert store.remove("gone") == model
    assert not store.folder_for("gone").exists()
    assert [m.name for m in store.entries()] == ["kept"]
    with pytest.raises(KeyError):
        store.remove("gone")


@pytest.mark.parametrize(
    "name", ["", "a/b", "a\\b", "..", "a..b", ".hidden", "/abs", "x" * 129, "a\nb", "é"]
)
def test_a_name_that_is_not_one_safe_folder_is_refused(tmp_path: Path, name: str) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(InvalidModelName, match="cannot be stored"):
        store.folder_for(name)
    with pytest.raises(InvalidModelName):
        store.record(_fake(name))
    assert store.get(name) is None
    with pytest.raises(KeyError):
        store.remove(name)
    assert not (tmp_path / "models").exists()


def _fake(name: str) -> PulledModel:
    return PulledModel(
        name=name,
        backend="echo",
        path="/nowhere",
        source="o/r",
        revision="0" * 40,
        files=(),
        size_bytes=0,
        pulled_at=0.0,
    )


@pytest.mark.parametrize("name", ["smollm2-135m", "llava-1.5-7b", "qwen2.5:q4_k_m", "A+B_c"])
def test_usual_names_are_accepted(tmp_path: Path, name: str) -> None:
    assert ModelStore(tmp_path).folder_for(name) == tmp_path / name
