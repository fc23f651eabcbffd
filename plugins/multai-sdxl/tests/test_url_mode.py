"""response_format="url": images kept in memory behind signed, expiring capability URLs that
need no API key, while generating needs one."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import httpx
import openai
import pytest
from PIL import Image
from sdxl_testing import Server, TinyModels, decode_b64, run_server, sdxl_model

from multai_core.testing.openai_spec import validate

KEY = "sk-sdxl-test"
TTL_S = 6
STORE_BYTES = 40_000  # three 64x64 PNGs of noise fit (about 12 kB each), four do not


@pytest.fixture(scope="module")
def url_server(
    tiny_models: TinyModels, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("url-server")
    with run_server(
        folder,
        [sdxl_model(tiny_models)],
        {"api_keys": [KEY], "image_url_ttl_s": TTL_S, "image_store_bytes": STORE_BYTES},
    ) as running:
        running.client().images.generate(model="tiny-sdxl", prompt="warm up")
        yield running


def _generate_url(server: Server, seed: int, **extra: object) -> str:
    response = server.client().images.generate(
        model="tiny-sdxl", prompt="a mug", response_format="url", extra_body={"seed": seed, **extra}
    )
    validate("ImagesResponse", response.model_dump(exclude_none=True))
    (item,) = response.data or []
    assert item.b64_json is None and item.url
    return item.url


def test_url_serves_the_same_image_without_an_api_key(url_server: Server) -> None:
    url = _generate_url(url_server, 21)
    assert url.startswith(f"{url_server.base_url}/v1/images/files/")
    fetched = httpx.get(url)  # no Authorization header: the URL is the capability
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "image/png"
    assert "private" in fetched.headers["cache-control"]
    image = Image.open(io.BytesIO(fetched.content))
    assert (image.format, image.size) == ("PNG", (64, 64))

    b64 = url_server.client().images.generate(
        model="tiny-sdxl", prompt="a mug", response_format="b64_json", extra_body={"seed": 21}
    )
    assert decode_b64(b64.data[0].b64_json).tobytes() == image.tobytes()  # type: ignore[index]


def test_jpeg_and_webp_urls(url_server: Server) -> None:
    for output_format, content_type in (("jpeg", "image/jpeg"), ("webp", "image/webp")):
        url = _generate_url(url_server, 3, output_format=output_format)
        assert urlparse(url).path.endswith(f".{output_format}")
        fetched = httpx.get(url)
        assert fetched.headers["content-type"] == content_type
        assert Image.open(io.BytesIO(fetched.content)).format == output_format.upper()


def test_generating_needs_the_api_key(url_server: Server) -> None:
    with pytest.raises(openai.AuthenticationError):
        url_server.client(api_key="sk-wrong").images.generate(model="tiny-sdxl", prompt="a mug")


def _with_query(url: str, **changes: str) -> str:
    parts = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunparse(parts._replace(query=urlencode(query)))


def test_a_tampered_link_is_a_404(url_server: Server) -> None:
    url = _generate_url(url_server, 22)
    signature = parse_qs(urlparse(url).query)["sig"][0]
    expires = int(parse_qs(urlparse(url).query)["expires"][0])
    bad_links = [
        _with_query(url, sig="0" * len(signature)),
        _with_query(url, expires=str(expires + 3600)),  # a longer life needs a new signature
        _with_query(url, sig=""),
        url.split("?")[0],
        url.replace("/files/", "/files/x"),
    ]
    for link in bad_links:
        reply = httpx.get(link)
        assert reply.status_code == 404, link
        validate("ErrorResponse", reply.json())
        assert reply.json()["error"]["code"] == "image_not_found"
    assert httpx.get(url).status_code == 200


def test_links_expire(url_server: Server) -> None:
    url = _generate_url(url_server, 23)
    assert httpx.get(url).status_code == 200
    expires = int(parse_qs(urlparse(url).query)["expires"][0])
    time.sleep(max(0.0, expires - time.time()) + 1.1)
    reply = httpx.get(url)
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "image_not_found"


def test_the_store_is_bounded(url_server: Server) -> None:
    first = _generate_url(url_server, 31)
    later = [_generate_url(url_server, seed) for seed in (32, 33, 34)]
    assert httpx.get(first).status_code == 404  # evicted, oldest first
    assert all(httpx.get(url).status_code == 200 for url in later[1:])
    # a response whose images could never fit together is refused before anything is stored
    with pytest.raises(openai.BadRequestError) as too_many:
        url_server.client().images.generate(
            model="tiny-sdxl", prompt="a mug", n=4, response_format="url"
        )
    assert too_many.value.body["param"] == "response_format"  # type: ignore[index]


def test_public_base_url_is_used_for_links(
    tiny_models: TinyModels, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("public-url")
    with run_server(
        folder, [sdxl_model(tiny_models)], {"public_base_url": "https://images.example.com/"}
    ) as running:
        url = _generate_url(running, 1)
        assert url.startswith("https://images.example.com/v1/images/files/")
        local = url.replace("https://images.example.com", running.base_url)
        assert httpx.get(local).status_code == 200
