"""The pack contract kit on multai-piper's default voice (joe, from PyPI)."""

from multai_core.testing.pack import PackContract


class TestContract(PackContract):
    entry_point = "piper"
    backend = "piper"
