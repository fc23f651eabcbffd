"""The pack contract kit on multai-llamacpp's default model (SmolLM2 from PyPI)."""

from multai_core.testing.pack import PackContract


class TestContract(PackContract):
    entry_point = "llamacpp"
    backend = "llamacpp"
