"""Pull the tiny Bark from a fake hub on loopback by its hub reference (the backend found in its
config.json), then `multai serve` it from the model store alone and speak through the SDK."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import multai_bark.plugin
import numpy as np
import pytest
import soundfile as sf
from bark_tiny import SAMPLE_RATE, SEGMENT_SAMPLES
from openai import OpenAI

from multai_core.engine.memory import MemoryManager
from multai_core.engine.packs import Packs
from multai_core.plugins import make_plugin_manager
from multai_core.store.catalog import PullRefused
from multai_core.store.manifest import ModelStore, PulledModel
from multai_core.store.preflight import assessor
from multai_core.store.pull import PullOptions, pull
from multai_core.testing.fake_hub import FakeHub, folder_files
from multai_core.testing.server import multai_process

REPO = "acme/tiny-bark"
NOT_NEEDED = {"README.md": b"# tiny bark\n", ".gitattributes": b"*.safetensors filter=lfs\n"}


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    with FakeHub() as fake:
        fake.aim_this_process(monkeypatch, tmp_path / "hf-home")
        yield fake


def bark_pull(reference: str, store: ModelStore) -> tuple[PulledModel, str]:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(multai_bark.plugin)
    packs = Packs(pm)
    out = io.StringIO()
    model = pull(
        reference,
        store,
        PullOptions(yes=True),
        assess=assessor(packs.hooks.keys(), MemoryManager(packs)),
        confirm=None,
        out=out,
    )
    return model, out.getvalue()


def test_a_pulled_bark_is_detected_estimated_from_headers_and_served(
    hub: FakeHub, tiny_bark: Path, tmp_path: Path
) -> None:
    files = folder_files(tiny_bark)
    sha = hub.add_commit(REPO, {**files, **NOT_NEEDED})
    store = ModelStore(tmp_path / "models")

    model, out = bark_pull(REPO, store)

    assert (model.name, model.backend, model.revision) == ("tiny-bark", "bark", sha)
    # the bark plugin's own estimate ran on the header-only stand-in
    assert "needs" in out and "MiB of RAM" in out, out
    weights = hub.ranges("model.safetensors")
    header_reads = [r for r in weights if r is not None and not r.endswith("-")]
    assert header_reads and all(r.startswith("bytes=0-") for r in header_reads), weights
    assert hub.downloaded(REPO) == set(files) == set(model.files)
    assert folder_files(Path(model.path)) == files

    config = tmp_path / "multai.toml"
    config.write_text(f'default_models = false\n[server]\nmodels_dir = "{store.root}"\n')
    with multai_process(
        config=config,
        log_path=tmp_path / "server.log",
        env={"MULTAI_LOAD_PLUGINS": "bark", "OMP_NUM_THREADS": "1"},
    ) as base_url:
        client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=120)
        assert [m.id for m in client.models.list()] == ["tiny-bark"]
        speech = client.audio.speech.create(
            model="tiny-bark", voice="alloy", input="Good morning.", response_format="wav"
        )
    samples, rate = sf.read(io.BytesIO(speech.content), dtype="float32")
    assert rate == SAMPLE_RATE and samples.shape == (SEGMENT_SAMPLES,)
    assert np.abs(samples).max() > 0.001  # not silence


def test_a_bark_with_pickled_weights_only_is_refused_before_any_download(
    hub: FakeHub, tiny_bark: Path, tmp_path: Path
) -> None:
    files = folder_files(tiny_bark)
    pickled = {p: b for p, b in files.items() if not p.endswith(".safetensors")}
    hub.add_commit(REPO, {**pickled, "pytorch_model.bin": b"\x80\x04 a pickle stand-in"})
    store = ModelStore(tmp_path / "models")

    with pytest.raises(PullRefused, match=r"only pickled weights \(pytorch_model\.bin\)"):
        bark_pull(REPO, store)

    assert hub.downloaded(REPO) == set()
    assert store.get("tiny-bark") is None
