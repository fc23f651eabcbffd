"""The test server: `multai serve` in a subprocess with the packaged Whisper base model as the
default (no config), one CTranslate2 thread (the development machines have 2 shared cores)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openai import OpenAI

ONE_THREAD = {"MULTAI_WHISPER_CPU_THREADS": "1", "OMP_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Server:
    base_url: str
    log: Path
    tmp: Path
    """The server process's TMPDIR."""

    def client(self) -> OpenAI:
        return OpenAI(base_url=f"{self.base_url}/v1", api_key="unused", max_retries=0, timeout=120)


def server_env(cache_dir: Path, tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "MULTAI_CACHE_DIR": str(cache_dir),
        "MULTAI_LOAD_PLUGINS": "whisper",
        "TMPDIR": str(tmp),
        **ONE_THREAD,
        **extra,
    }
