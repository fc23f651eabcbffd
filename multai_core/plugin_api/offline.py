"""Nothing goes to the network at run time: the libraries plugins use (huggingface_hub,
transformers, diffusers) are told so before any of them is imported. An operator who really
wants hub access sets the variables to 0 before starting the server."""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DIFFUSERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DO_NOT_TRACK": "1",
    "DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def enforce(*, force: bool = False) -> None:
    """Set the offline switches: where unset (the server, at start), or always (``force``:
    plugins, right before they import a hub library and load with local files only)."""
    for key, value in OFFLINE_ENV.items():
        if force:
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)
