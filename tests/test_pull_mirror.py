"""A pulled model copied into another machine's store (what a Ray cluster's nodes get when the
ingress pulls), against a fake hub on loopback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import msgspec
import pytest

from multai_core.store.catalog import PullRefused
from multai_core.store.manifest import ModelStore
from multai_core.store.mirror import mirror, relative_path
from multai_core.store.pull import PullOptions, start_worker
from multai_core.testing.fake_hub import FakeHub
from tests.test_pull import run_pull, tiny_gguf


def test_a_copy_is_the_same_files_at_the_same_revision(hub: FakeHub, tmp_path: Path) -> None:
    here, there = ModelStore(tmp_path / "here"), ModelStore(tmp_path / "there")
    files = {"tiny-Q4_K_M.gguf": tiny_gguf(1000), "tiny-Q8_0.gguf": tiny_gguf(2000)}
    pulled_at = hub.add_commit("acme/Tiny-GGUF", files)
    model, _ = run_pull("acme/Tiny-GGUF:Q8_0", here)
    hub.add_commit("acme/Tiny-GGUF", {"tiny-Q8_0.gguf": tiny_gguf(3000, b"newer")})

    out = io.StringIO()
    assert mirror(model, relative_path(model, here), there, out) == "pulled"
    copy = there.get(model.name)
    assert copy is not None and copy.revision == pulled_at and copy.files == ("tiny-Q8_0.gguf",)
    assert Path(copy.path) == there.folder_for(model.name) / "tiny-Q8_0.gguf"
    assert Path(copy.path).read_bytes() == files["tiny-Q8_0.gguf"]  # not the newer commit's
    assert msgspec.structs.replace(copy, path=model.path) == model
    assert "tiny-Q8_0.gguf: done" in out.getvalue()
    # storage the machines share, or a second copy: nothing fetched again
    before = len(hub.requests)
    assert mirror(model, relative_path(model, here), there, io.StringIO()) == "already there"
    assert len(hub.requests) == before


def test_a_copy_of_an_update_drops_the_old_files(hub: FakeHub, tmp_path: Path) -> None:
    here, there = ModelStore(tmp_path / "here"), ModelStore(tmp_path / "there")
    hub.add_commit("acme/Tiny-GGUF", {"tiny-Q4_K_M.gguf": tiny_gguf(1000)})
    first, _ = run_pull("acme/Tiny-GGUF", here)
    mirror(first, relative_path(first, here), there, io.StringIO())
    hub.add_commit("acme/Tiny-GGUF", {"tiny-v2-Q4_K_M.gguf": tiny_gguf(2000)})
    second, _ = run_pull("tiny", here, PullOptions(update=True))

    assert mirror(second, relative_path(second, here), there, io.StringIO()) == "pulled"
    folder = there.folder_for("tiny")
    assert sorted(p.name for p in folder.iterdir()) == ["tiny-v2-Q4_K_M.gguf"]
    copy = there.get("tiny")
    assert copy is not None and copy.revision == second.revision


def test_a_revision_without_the_files_is_refused(hub: FakeHub, tmp_path: Path) -> None:
    here, there = ModelStore(tmp_path / "here"), ModelStore(tmp_path / "there")
    hub.add_commit("acme/Tiny-GGUF", {"tiny-Q4_K_M.gguf": tiny_gguf(1000)})
    model, _ = run_pull("acme/Tiny-GGUF", here)
    renamed = msgspec.structs.replace(model, files=("gone-Q4_K_M.gguf",))
    with pytest.raises(PullRefused, match=r"has no file gone-Q4_K_M\.gguf"):
        mirror(renamed, "gone-Q4_K_M.gguf", there, io.StringIO())
    assert there.get("tiny") is None


def test_the_pull_worker_copies_in_a_process_of_its_own(hub: FakeHub, tmp_path: Path) -> None:
    here, there = ModelStore(tmp_path / "here"), ModelStore(tmp_path / "there")
    hub.add_commit("acme/Tiny-GGUF", {"tiny-Q4_K_M.gguf": tiny_gguf(1000)})
    model, _ = run_pull("acme/Tiny-GGUF", here)
    request = {
        "mirror": msgspec.to_builtins(model),
        "relative": relative_path(model, here),
        "models_dir": str(there.root),
    }
    with start_worker(request, answers=False) as worker:  # this process is aimed at the hub
        out, _ = worker.communicate(timeout=120)
    messages = [json.loads(line) for line in out.splitlines()]
    assert worker.returncode == 0, messages
    assert messages[-1] == {"copied": "pulled"}
    assert any("tiny-Q4_K_M.gguf: done" in m.get("line", "") for m in messages)
    copy = there.get("tiny")
    assert copy is not None and Path(copy.path).read_bytes() == Path(model.path).read_bytes()
