"""The in-memory store behind url responses, with a controllable clock."""

from __future__ import annotations

import pytest

from multai_core.plugin_api import InvalidRequest
from multai_core.serving.image_store import ImageNotFound, ImageStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _query(store: ImageStore, name: str, expires: int) -> tuple[str, str]:
    return str(expires), store.signature(name, expires)


def test_put_and_get_until_expiry() -> None:
    clock = Clock()
    store = ImageStore(max_bytes=1000, ttl_s=60, clock=clock)
    name, expires = store.put(b"png-bytes", "image/png", "png")
    assert name.endswith(".png") and expires == 1_000_060
    assert store.signed_path(name, expires) == (
        f"/v1/images/files/{name}?expires={expires}&sig={store.signature(name, expires)}"
    )
    image = store.get(name, *_query(store, name, expires))
    assert (image.data, image.content_type) == (b"png-bytes", "image/png")
    clock.now += 59.9
    assert store.get(name, *_query(store, name, expires)).data == b"png-bytes"
    clock.now += 0.2
    with pytest.raises(ImageNotFound):
        store.get(name, *_query(store, name, expires))
    assert len(store) == 0 and store.bytes_held == 0


@pytest.mark.parametrize(
    "tamper",
    [
        lambda name, expires, sig: (name, str(expires + 1), sig),
        lambda name, expires, sig: (
            name,
            str(expires),
            sig[:-1] + ("0" if sig[-1] != "0" else "1"),
        ),
        lambda name, expires, sig: (name, str(expires), ""),
        lambda name, expires, sig: (name, None, sig),
        lambda name, expires, sig: (name, "-5", sig),
        lambda name, expires, sig: (name, "1e9", sig),
        lambda name, expires, sig: ("other.png", str(expires), sig),
        lambda name, expires, sig: (name, str(expires), sig.upper()),
        lambda name, expires, sig: (name, str(expires), "é" * 64),
    ],
)
def test_tampered_links_are_not_found(tamper) -> None:  # type: ignore[no-untyped-def]
    store = ImageStore(max_bytes=1000, ttl_s=60)
    name, expires = store.put(b"x", "image/png", "png")
    with pytest.raises(ImageNotFound):
        store.get(*tamper(name, expires, store.signature(name, expires)))


def test_another_process_secret_does_not_verify() -> None:
    mine, theirs = ImageStore(max_bytes=100, ttl_s=60), ImageStore(max_bytes=100, ttl_s=60)
    name, expires = mine.put(b"x", "image/png", "png")
    assert theirs.signature(name, expires) != mine.signature(name, expires)


def test_oldest_images_are_evicted_to_stay_within_the_bound() -> None:
    store = ImageStore(max_bytes=25, ttl_s=60)
    first, e1 = store.put(b"a" * 10, "image/png", "png")
    second, e2 = store.put(b"b" * 10, "image/png", "png")
    third, e3 = store.put(b"c" * 10, "image/png", "png")
    assert store.bytes_held == 20 and len(store) == 2
    with pytest.raises(ImageNotFound):
        store.get(first, *_query(store, first, e1))
    assert store.get(second, *_query(store, second, e2)).data == b"b" * 10
    assert store.get(third, *_query(store, third, e3)).data == b"c" * 10


def test_an_image_larger_than_the_store_is_refused() -> None:
    store = ImageStore(max_bytes=5, ttl_s=60)
    with pytest.raises(InvalidRequest) as refused:
        store.put(b"123456", "image/png", "png")
    assert refused.value.param == "response_format"


def test_names_are_unguessable() -> None:
    store = ImageStore(max_bytes=10_000, ttl_s=60)
    names = {store.put(b"x", "image/png", "png")[0] for _ in range(200)}
    assert len(names) == 200
    assert all(len(name) >= 24 for name in names)
