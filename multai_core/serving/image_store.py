"""Generated images behind signed, expiring URLs, kept in memory only.

An ``<img src>`` cannot send an Authorization header, so the URL itself is the capability: an
unguessable id plus an expiry, signed with HMAC-SHA256 under a random per-process secret.
Entries live at most ``ttl_s`` seconds and the store holds at most ``max_bytes``, dropping the
oldest first. Nothing is ever written to disk; a restart forgets every image (and the secret,
so old links stop working too).

A link's host comes from the configuration, never from the request: a client's Host header is
whatever the client says, and a link built from it would send the image's next reader (a browser,
a chat UI) wherever that client wished.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from multai_core.config import ServerConfig
from multai_core.plugin_api.errors import InvalidRequest, MultaiError

FILES_PATH = "/v1/images/files"
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "*"})  # noqa: S104 (recognised, not bound)


def link_base(server: ServerConfig) -> str:
    """Where links point: ``public_base_url``, else the address the server is bound to.

    A server bound to every interface has no one address its clients all reach, and a link to
    127.0.0.1 would be broken for every client but the machine's own (the only reason to bind a
    wildcard), so there response_format 'url' needs ``public_base_url``: a 400 naming it, before
    any model time is spent, rather than links that fail later in someone's browser.
    """
    if server.public_base_url:
        return server.public_base_url.rstrip("/")
    bound = server.host.strip("[]")
    if bound in WILDCARD_HOSTS:
        raise InvalidRequest(
            f"This server listens on every interface ({server.host or 'all'}), so it cannot know "
            "the address clients reach it at: set [server].public_base_url (e.g. "
            "https://multai.example.com) for response_format 'url', or ask for 'b64_json'.",
            param="response_format",
        )
    host = f"[{bound}]" if ":" in bound else bound
    scheme = "https" if server.tls_certfile else "http"
    return f"{scheme}://{host}:{server.port}"


class ImageNotFound(MultaiError):
    status_code = 404
    type = "invalid_request_error"
    code = "image_not_found"


@dataclass(frozen=True)
class StoredImage:
    data: bytes
    content_type: str
    expires_at: int


class ImageStore:
    def __init__(
        self,
        *,
        max_bytes: int,
        ttl_s: float,
        clock: Callable[[], float] = time.time,
        secret: bytes | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._clock = clock
        self._secret = secret or secrets.token_bytes(32)
        self._images: OrderedDict[str, StoredImage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def bytes_held(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._images)

    def check_room(self, total_bytes: int) -> None:
        """Refuse a response whose images together could never fit (its first links would be
        evicted by its last)."""
        if total_bytes > self.max_bytes:
            raise InvalidRequest(
                f"The images ({total_bytes} bytes) exceed this server's image URL store "
                f"({self.max_bytes} bytes); ask for response_format 'b64_json' or fewer or "
                "smaller images.",
                param="response_format",
            )

    def put(self, data: bytes, content_type: str, extension: str) -> tuple[str, int]:
        """Keep ``data``; returns its name (id plus extension) and its expiry (Unix seconds)."""
        self.check_room(len(data))
        name = f"{secrets.token_urlsafe(18)}.{extension}"
        expires_at = int(self._clock() + self.ttl_s)
        with self._lock:
            self._drop_expired()
            while self._images and self._bytes + len(data) > self.max_bytes:
                _, oldest = self._images.popitem(last=False)
                self._bytes -= len(oldest.data)
            self._images[name] = StoredImage(data, content_type, expires_at)
            self._bytes += len(data)
        return name, expires_at

    def signature(self, name: str, expires_at: int) -> str:
        message = f"{name}\n{expires_at}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def signed_path(self, name: str, expires_at: int) -> str:
        return f"{FILES_PATH}/{name}?expires={expires_at}&sig={self.signature(name, expires_at)}"

    def get(self, name: str, expires: str | None, sig: str | None) -> StoredImage:
        """The image a signed URL names; ImageNotFound (404) when the signature is wrong, the
        link expired or the image was evicted (one answer for all: no oracle)."""
        missing = ImageNotFound("This image link is invalid or has expired.")
        if not expires or not sig or not expires.isdigit() or len(expires) > 12:
            raise missing
        expires_at = int(expires)
        expected = self.signature(name, expires_at)
        if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
            raise missing
        with self._lock:
            self._drop_expired()
            image = self._images.get(name)
        if image is None or image.expires_at != expires_at:
            raise missing
        return image

    def _drop_expired(self) -> None:
        # every entry gets the same TTL, so insertion order is expiry order
        now = self._clock()
        while self._images:
            name, oldest = next(iter(self._images.items()))
            if oldest.expires_at > now:
                return
            del self._images[name]
            self._bytes -= len(oldest.data)
