"""The pack contract kit on multai-whisper's default model (Whisper base from PyPI)."""

from pathlib import Path

import pytest
from speech_fixtures import fixture_path

from multai_core.testing.pack import PackContract


class TestContract(PackContract):
    entry_point = "whisper"
    backend = "whisper"

    @pytest.fixture(autouse=True)
    def _cache(self, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MULTAI_CACHE_DIR", str(cache_dir))

    @pytest.fixture
    def sample_audio(self) -> bytes:
        """Speech (two sentences): a tone gives Whisper no segments to cancel between."""
        return fixture_path("en_invoice.wav").read_bytes()
