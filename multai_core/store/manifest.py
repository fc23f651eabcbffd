"""The model store: models fetched by `multai pull`, one folder each under the store's root and
one manifest each in ``<root>/.manifests/<name>.json``. The manifest is written last, atomically,
so a model is in the store only once its pull completed; a folder without one (a pull cut short,
a removal cut short) is never served."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import msgspec
import structlog

from multai_core.plugin_api.types import ModelSpec

MANIFESTS = ".manifests"  # a model name cannot start with a dot, so no model folder has this name
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}")
_log = structlog.get_logger(__name__)


class PulledModel(msgspec.Struct, kw_only=True, frozen=True):
    """One pulled model, as its manifest records it."""

    name: str
    backend: str
    path: str
    """Absolute: the file or folder the backend loads."""
    source: str
    """``owner/repo`` on the hub (or the catalog name it came from)."""
    catalog: str | None = None
    file: str | None = None
    """The file choice the pull named (a quantization, a voice, a pattern): --update repeats it."""
    revision: str
    """The commit sha that was downloaded."""
    files: tuple[str, ...]
    size_bytes: int
    pulled_at: float
    options: dict[str, Any] = {}
    aliases: tuple[str, ...] = ()

    def spec(self) -> ModelSpec:
        return ModelSpec(
            name=self.name,
            backend=self.backend,
            path=self.path,
            aliases=self.aliases,
            options=dict(self.options),
        )


class InvalidModelName(ValueError):
    """A name the store cannot hold: it would not be a single safe folder name."""


def name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a pulled model's name, in one line, or None."""
    if _NAME.fullmatch(name) and ".." not in name:
        return None
    return (
        f"the model name {name!r} cannot be stored: use 1 to 128 letters, digits and . _ : + -, "
        "starting with a letter or digit (no path separators, no '..')"
    )


def _checked(name: str) -> str:
    problem = name_problem(name)
    if problem:
        raise InvalidModelName(problem)
    return name


class ModelStore:
    """The pulled models under ``root`` (``config.models_dir(server)``). Reading never creates
    the root; only :meth:`record` does."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def _manifests(self) -> Path:
        return self.root / MANIFESTS

    def _manifest(self, name: str) -> Path:
        return self._manifests / f"{_checked(name)}.json"

    def entries(self) -> list[PulledModel]:
        """The complete pulls, sorted by name; an unreadable manifest is skipped with a
        warning naming its file."""
        try:
            files = sorted(self._manifests.glob("*.json"))
        except OSError:
            return []
        found = [m for f in files if (m := self._read(f)) is not None]
        return sorted(found, key=lambda m: m.name)

    def get(self, name: str) -> PulledModel | None:
        if name_problem(name):
            return None
        return self._read(self._manifest(name))

    def folder_for(self, name: str) -> Path:
        """Where a pull of ``name`` downloads (not created here)."""
        return self.root / _checked(name)

    def record(self, model: PulledModel) -> None:
        """Add or replace ``model``'s manifest: the last step of a pull. Written to a temporary
        file beside it and renamed over it, so a reader sees the old manifest or the new one."""
        target = self._manifest(model.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{model.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(msgspec.json.encode(model))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def remove(self, name: str) -> PulledModel:
        """Remove ``name`` from the store: its manifest first (it stops being served), then its
        folder. KeyError when the store has no such model."""
        model = self.get(name)
        if model is None:
            raise KeyError(name)
        self._manifest(name).unlink(missing_ok=True)
        shutil.rmtree(self.folder_for(name), ignore_errors=True)
        return model

    def _read(self, path: Path) -> PulledModel | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            _log.warning("model store: cannot read a manifest", file=str(path), error=str(exc))
            return None
        try:
            model = msgspec.json.decode(data, type=PulledModel)
        except msgspec.DecodeError as exc:
            _log.warning("model store: a manifest is not valid", file=str(path), error=str(exc))
            return None
        if path.stem != model.name:
            _log.warning("model store: a manifest names another model", file=str(path))
            return None
        return model
