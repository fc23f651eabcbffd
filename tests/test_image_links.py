"""Generated image links take their host from the configuration, never from the client's Host
header (a forged one would point the image's next reader wherever that client wished)."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import openai
import pytest
from openai import OpenAI
from PIL import Image

from multai_core.config import Config, ServerConfig
from multai_core.plugin_api import (
    Backend,
    ImageGenerationTask,
    ImageResult,
    InvalidRequest,
    MemoryEstimate,
    ModelSpec,
    Placement,
    RawImage,
    Task,
    hookimpl,
)
from multai_core.serving.image_store import link_base
from tests.conftest import make_server

FORGED = {"Host": "evil.example"}
PORT = 8123  # in the config only: links name it, though the test server listens elsewhere


class PaintPlugin:
    """Backend "paint": an image model answering grey 8x8 pixels per image; counts its runs."""

    def __init__(self) -> None:
        self.painted = 0

    @hookimpl
    def multai_register_backends(self, register: Callable[[Backend], None]) -> None:
        register(
            Backend(
                name="paint",
                tasks=frozenset({"image"}),
                default_models=[ModelSpec(name="paint", backend="paint")],
            )
        )

    @hookimpl
    def multai_estimate_memory(self, spec: ModelSpec) -> MemoryEstimate:
        return MemoryEstimate(cpu_bytes=1024, gpu_bytes=1024)

    @hookimpl
    def multai_load(self, spec: ModelSpec, placement: Placement) -> ModelSpec:
        return spec

    @hookimpl
    def multai_unload(self, handle: object) -> None:
        pass

    @hookimpl
    def multai_infer(self, handle: object, task: Task, cancel: threading.Event) -> ImageResult:
        assert isinstance(task.payload, ImageGenerationTask)
        self.painted += 1
        grey = RawImage(width=8, height=8, mode="RGB", pixels=b"\x80" * 8 * 8 * 3)
        return ImageResult(images=[grey] * task.payload.n)


@contextlib.contextmanager
def _serve(plugin: PaintPlugin, **server: object) -> Iterator[OpenAI]:
    config = Config(server=ServerConfig(port=PORT, **server))  # type: ignore[arg-type]
    with make_server(plugin, config) as base_url:  # type: ignore[arg-type]
        yield OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)


def _link(client: OpenAI) -> str:
    response = client.images.generate(
        model="paint", prompt="a mug", response_format="url", extra_headers=FORGED
    )
    (item,) = response.data or []
    assert item.url and item.b64_json is None
    return item.url


def test_links_name_the_bound_address_not_the_host_header() -> None:
    with _serve(PaintPlugin()) as client:
        url = _link(client)
        assert url.startswith(f"http://127.0.0.1:{PORT}/v1/images/files/"), url
        # the link works once its (configured) origin is the server's own
        here = urlsplit(str(client.base_url))
        fetched = httpx.get(f"{here.scheme}://{here.netloc}{url.split(str(PORT), 1)[1]}")
        assert fetched.status_code == 200
        assert Image.open(io.BytesIO(fetched.content)).size == (8, 8)


def test_links_name_public_base_url_when_set() -> None:
    with _serve(PaintPlugin(), public_base_url="https://images.example.com/") as client:
        assert _link(client).startswith("https://images.example.com/v1/images/files/")


def test_a_wildcard_bind_needs_public_base_url_for_links() -> None:
    plugin = PaintPlugin()
    with _serve(plugin, host="0.0.0.0") as client:
        with pytest.raises(openai.BadRequestError) as refused:
            _link(client)
        error = refused.value.body
        assert isinstance(error, dict)
        assert error["param"] == "response_format"
        assert "[server].public_base_url" in error["message"]
        assert plugin.painted == 0  # refused before any model time was spent
        b64 = client.images.generate(model="paint", prompt="a mug", response_format="b64_json")
        assert b64.data and b64.data[0].b64_json and plugin.painted == 1


@pytest.mark.parametrize(
    ("server", "base"),
    [
        (ServerConfig(host="::1", port=8443, tls_certfile="c.pem"), "https://[::1]:8443"),
        (ServerConfig(host="[::1]", port=80), "http://[::1]:80"),
        (ServerConfig(host="10.0.0.5", port=9000), "http://10.0.0.5:9000"),
        (ServerConfig(host="::", public_base_url="https://x.example/ai/"), "https://x.example/ai"),
    ],
)
def test_link_base(server: ServerConfig, base: str) -> None:
    assert link_base(server) == base


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]", ""])
def test_link_base_refuses_wildcards(host: str) -> None:
    with pytest.raises(InvalidRequest, match=r"\[server\]\.public_base_url"):
        link_base(ServerConfig(host=host))
