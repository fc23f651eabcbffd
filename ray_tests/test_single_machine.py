"""The single-machine server never imports Ray, even where it is installed."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from multai_core.cli import main
from multai_core.server.app import create_app
create_app()
prefixes = ("ray.", "multai_core.ray_serve")
print(sorted(m for m in sys.modules if m == "ray" or m.startswith(prefixes)))
"""


def test_the_server_without_ray_imports_none_of_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
