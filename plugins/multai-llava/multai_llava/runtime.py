"""The offline settings that must be in place before transformers is imported."""

from __future__ import annotations

from multai_core.plugin_api import offline


def go_offline() -> None:
    """Nothing reaches a hub at run time, whatever the environment said."""
    offline.enforce(force=True)
