"""A socket guard for tests: any attempt to connect or send to an address outside this machine
(anything but loopback and Unix sockets) is refused and recorded, in this process and, through
sitecustomize, in every Python subprocess the tests start (servers included)."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from pathlib import Path
from typing import Any

LOG_ENV = "MULTAI_SOCKET_GUARD_LOG"
SITE_DIR = Path(__file__).parent / "guard_site"
_lock = threading.Lock()
_installed = False


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):
        return True  # a Unix socket path
    host = address[0] if isinstance(address, tuple) and address else None
    if not isinstance(host, str):
        return True
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a host name that needs DNS: not local


def _record(kind: str, address: Any) -> None:
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    with _lock, open(path, "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} {kind} {address!r}\n")


def install() -> None:
    """Wrap socket.connect / connect_ex / sendto / getaddrinfo (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto
    original_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if not _is_local(address):
            _record("connect", address)
            raise ConnectionRefusedError(f"socket guard: outbound connection to {address!r}")
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_local(address):
            _record("connect_ex", address)
            return 111  # ECONNREFUSED
        return original_connect_ex(self, address)

    def sendto(self: socket.socket, *args: Any) -> int:
        address = args[-1]
        if not _is_local(address):
            _record("sendto", address)
            raise ConnectionRefusedError(f"socket guard: outbound datagram to {address!r}")
        return original_sendto(self, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode()
        if host is not None and not _is_local((host, 0)):
            _record("getaddrinfo", host)
            raise socket.gaierror(f"socket guard: name lookup of {host!r}")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign, assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign, assignment]
    socket.socket.sendto = sendto  # type: ignore[assignment]
    socket.getaddrinfo = getaddrinfo


def attempts(path: str | os.PathLike[str]) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
