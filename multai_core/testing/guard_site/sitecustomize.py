"""Loaded by every Python subprocess of a test run (PYTHONPATH): installs the socket guard."""

import os

if os.environ.get("MULTAI_SOCKET_GUARD_LOG"):
    from multai_core.testing.socket_guard import install

    install()
