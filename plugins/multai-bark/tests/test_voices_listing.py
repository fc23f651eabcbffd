"""GET /v1/audio/voices answers from the bark backend's ``voices`` reader: the model's folder
is read, the model is not loaded (nothing resident afterwards, the load hook never called)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import multai_bark.plugin
import pytest

from multai_core.config import Config
from multai_core.plugin_api import DeviceSnapshot, ModelSpec, Placement, hookimpl
from multai_core.plugins import make_plugin_manager
from multai_core.server.app import create_app
from multai_core.testing.openai_spec import validate
from multai_core.testing.server import threaded_server

CPU_ONLY = DeviceSnapshot(ram_total_bytes=2**34, ram_free_bytes=2**33)


class LoadCalled(AssertionError):
    pass


@hookimpl
def _no_load(spec: ModelSpec, placement: Placement) -> object:
    raise LoadCalled(f"{spec.name} was loaded to list its voices")


@pytest.fixture(scope="module")
def base_url(tiny_bark: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    broken = tmp_path_factory.mktemp("broken") / "bark"
    shutil.copytree(tiny_bark, broken)
    (broken / "speaker_embeddings_path.json").write_text(json.dumps({"x": 1}))
    models = [
        ModelSpec(name="tiny-bark", backend="bark", path=str(tiny_bark)),
        ModelSpec(name="broken-bark", backend="bark", path=str(broken)),
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(multai_bark.plugin, "multai_load", _no_load)
        pm = make_plugin_manager(load_entry_points=False)
        pm.register(multai_bark.plugin, name="bark")
        app = create_app(Config(models=models), pm, probe=lambda: CPU_ONLY)
        with threaded_server(app) as url:
            yield url


def test_voices_are_listed_without_loading_the_model(base_url: str) -> None:
    listed = httpx.get(f"{base_url}/v1/audio/voices", params={"model": "tiny-bark"})
    assert listed.status_code == 200
    body = listed.json()
    assert body["model"] == "tiny-bark"
    assert [v["id"] for v in body["data"]] == ["v2/en_speaker_6", "v2/en_speaker_9", "announcer"]
    assert httpx.get(f"{base_url}/v1/ps").json()["data"] == []
    assert httpx.get(f"{base_url}/v1/queue").json()["data"] == []


def test_an_unreadable_voice_library_is_a_503_in_openai_shape(base_url: str) -> None:
    response = httpx.get(f"{base_url}/v1/audio/voices", params={"model": "broken-bark"})
    assert response.status_code == 503
    validate("ErrorResponse", response.json())
    assert "speaker preset" in response.json()["error"]["message"]
    assert httpx.get(f"{base_url}/v1/ps").json()["data"] == []
