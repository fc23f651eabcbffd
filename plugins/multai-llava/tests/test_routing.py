"""Core routing: images sent to a model that cannot see them get a 400 that says so, before
anything is queued; the vision model takes text-only chat. A real server (uvicorn, in this
process) with the llava plugin and a text-only chat backend side by side."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import multai_llava.plugin
import openai
import pytest
from conftest import MODEL, RED
from openai import OpenAI
from text_only_plugin import TextOnlyPlugin

from multai_core.config import Config
from multai_core.plugin_api import ModelSpec
from multai_core.plugins import make_plugin_manager
from multai_core.server.app import create_app
from multai_core.testing.image_host import image_bytes, image_part
from multai_core.testing.server import threaded_server


@pytest.fixture(scope="module")
def text_only() -> TextOnlyPlugin:
    return TextOnlyPlugin()


@pytest.fixture(scope="module")
def routed(tiny_llava: Path, text_only: TextOnlyPlugin) -> Iterator[str]:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(multai_llava.plugin, name="llava")
    pm.register(text_only, name="text-only")
    config = Config(
        models=[
            ModelSpec(name="notes", backend="text-only"),
            ModelSpec(name=MODEL, backend="llava", path=str(tiny_llava)),
        ]
    )
    with threaded_server(create_app(config, pm)) as base_url:
        yield base_url


def test_images_to_a_text_only_model(routed: str, text_only: TextOnlyPlugin) -> None:
    client = OpenAI(base_url=f"{routed}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="notes",
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "hi"}, image_part(RED)]}
            ],
        )
    assert info.value.code == "image_not_supported"
    assert "cannot see images" in info.value.message
    assert text_only.tasks_seen == []  # refused before queueing
    # ... and a remote image for it is refused the same way, without fetching anything
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="notes",
            messages=[{"role": "user", "content": [image_part("http://127.0.0.1:9/x.png")]}],
        )
    answer = client.chat.completions.create(
        model="notes", messages=[{"role": "user", "content": "still here"}]
    )
    assert answer.choices[0].message.content == "still here"
    assert [t.kind for t in text_only.tasks_seen] == ["chat"]


def test_vision_alias_to_a_text_only_model(routed: str) -> None:
    response = httpx.post(
        f"{routed}/v1/vision",
        json={
            "model": "notes",
            "prompt": "what is it?",
            "image": base64.b64encode(image_bytes((1, 2, 3))).decode(),
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_not_supported"


def test_vision_alias_bodies_over_the_limit() -> None:
    from multai_core.config import ServerConfig

    app = create_app(
        # JSON is capped by max_body_bytes, a form by its file's limit (plus the form's allowance)
        Config(server=ServerConfig(max_body_bytes=4096, max_image_bytes=4096)),
        make_plugin_manager(load_entry_points=False),
    )
    with threaded_server(app) as base_url:
        big = "A" * 8192
        as_json = httpx.post(
            f"{base_url}/v1/vision", json={"model": MODEL, "prompt": "p", "image": big}
        )
        as_form = httpx.post(
            f"{base_url}/v1/vision",
            data={"model": MODEL, "prompt": "p"},
            files={"image": ("a.png", big.encode())},
        )
        for response in (as_json, as_form):
            assert response.status_code == 413
            assert response.json()["error"]["code"] == "request_too_large"
