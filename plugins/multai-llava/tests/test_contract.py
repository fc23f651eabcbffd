"""The pack contract kit on a tiny random LLaVA (no LLaVA ships on PyPI)."""

from pathlib import Path

import pytest

from multai_core.plugin_api import ModelSpec
from multai_core.testing.pack import PackContract


class TestContract(PackContract):
    entry_point = "llava"
    backend = "llava"

    @pytest.fixture
    def pack_model(self, tiny_llava: Path) -> ModelSpec:
        return ModelSpec(name="tiny-llava", backend="llava", path=str(tiny_llava))
