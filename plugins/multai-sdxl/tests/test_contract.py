"""The pack contract kit on a tiny random SDXL (no SDXL ships on PyPI)."""

import msgspec
import pytest
from sdxl_testing import TinyModels, sdxl_model

from multai_core.plugin_api import ModelSpec
from multai_core.testing.pack import PackContract


class TestContract(PackContract):
    entry_point = "sdxl"
    backend = "sdxl"

    @pytest.fixture
    def pack_model(self, tiny_models: TinyModels) -> ModelSpec:
        return msgspec.convert(sdxl_model(tiny_models), ModelSpec)
