"""The pack contract kit on a tiny random Bark (no Bark ships on PyPI)."""

from pathlib import Path

import pytest

from multai_core.plugin_api import ModelSpec
from multai_core.testing.pack import PackContract


class TestContract(PackContract):
    entry_point = "bark"
    backend = "bark"

    @pytest.fixture
    def pack_model(self, tiny_bark: Path) -> ModelSpec:
        return ModelSpec(
            name="tiny-bark",
            backend="bark",
            path=str(tiny_bark),
            options={"do_sample": False, "torch_threads": 1, "max_segment_chars": 40},
        )
