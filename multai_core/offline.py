"""Nothing goes to the network at run time: the libraries plugins use (huggingface_hub,
transformers, diffusers) are told so before any of them is imported. An operator who really
wants hub access sets the variables to 0 before starting the server."""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DO_NOT_TRACK": "1",
    "DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def enforce() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
