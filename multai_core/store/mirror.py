"""A pulled model copied as it is, the same files at the same revision, into another machine's
store, for a server that spans several machines (Ray Serve). Nothing is chosen again: the machine
that pulled it chose the files and answered the memory question."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol, TextIO

import msgspec

from multai_core.store.catalog import PullRefused
from multai_core.store.hub import INCOMPLETE, Snapshot, download, snapshot
from multai_core.store.manifest import ModelStore, PulledModel
from multai_core.store.preflight import check_disk
from multai_core.store.progress import Progress

Copied = Literal["pulled", "already there"]


class OtherStores(Protocol):
    """The model stores of the other machines a server spans (every node but its own)."""

    def copy(self, model: PulledModel, relative: str, say: Callable[[str], None]) -> dict[str, str]:
        """Copy ``model`` into each (``relative``: see :func:`mirror`); ``say`` gets their
        progress lines. What happened on each machine, by its name: "pulled", "already
        there", or what went wrong."""
        ...

    def remove(self, name: str) -> dict[str, str]:
        """Remove the pulled model ``name`` from each: "removed" or "not there", by machine."""
        ...


def mirror(model: PulledModel, relative: str, store: ModelStore, out: TextIO) -> Copied:
    """Copy ``model`` into ``store``: its ``files`` from ``source`` at ``revision``, checked
    and resumable as a pull is, recorded last. ``relative`` is the path the backend loads,
    inside the model's folder ("" for the folder itself). A store that holds the same
    revision already (storage the machines share) is left as it is."""
    here = store.get(model.name)
    if here is not None and (here.source, here.revision) == (model.source, model.revision):
        return "already there"
    snap = snapshot(model.source, model.revision)
    missing = [path for path in model.files if path not in snap.files]
    if missing:
        raise PullRefused(f"{model.source}@{model.revision[:12]} has no file {missing[0]}")
    size = sum(snap.files[path].size for path in model.files)
    check_disk(size, store.root, None)
    folder = store.folder_for(model.name)
    old = here.files if here is not None else ()
    fetch(snap, model.files, folder, Progress(out, size, terminal=False), replacing=old)
    loads = folder / relative if relative else folder
    store.record(msgspec.structs.replace(model, path=str(loads)))
    return "pulled"


def relative_path(model: PulledModel, store: ModelStore) -> str:
    """The path the backend loads, inside the model's folder in ``store`` ("" for the
    folder)."""
    path = Path(model.path)
    folder = store.folder_for(model.name)
    return "" if path == folder else path.relative_to(folder).as_posix()


def fetch(
    snap: Snapshot,
    files: tuple[str, ...],
    folder: Path,
    progress: Progress,
    *,
    replacing: tuple[str, ...] = (),
) -> None:
    """Download ``files`` of ``snap`` into ``folder`` (checked, resumable), then drop the
    files of the revision it replaces that this one no longer has."""
    for path in files:
        download(snap, path, folder, progress)
    shutil.rmtree(folder / INCOMPLETE, ignore_errors=True)
    for path in set(replacing) - set(files):
        (folder / path).unlink(missing_ok=True)
