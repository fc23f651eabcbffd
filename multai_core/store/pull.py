"""`multai pull`: resolve a name, plan (files, size, free disk, memory estimate and placement
from the headers alone), ask when it would not fit, download resumably with checksums, then
record the model in the store (last: an interrupted pull leaves the store unchanged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import msgspec

from multai_core.plugin_api import offline
from multai_core.plugin_api.types import ModelSpec
from multai_core.store.catalog import (
    PullRefused,
    Selection,
    Wanted,
    gguf_quantization,
    human_size,
    select,
    sniff_config,
    wanted,
)
from multai_core.store.hub import Snapshot, read_range, snapshot
from multai_core.store.manifest import ModelStore, PulledModel, name_problem
from multai_core.store.mirror import fetch, mirror
from multai_core.store.preflight import Assessment, check_disk, stand_in
from multai_core.store.progress import Progress

CONFIG_BYTES = 1024 * 1024


@dataclass
class PullOptions:
    name: str | None = None  # the name to serve it under
    backend: str | None = None
    yes: bool = False  # pull even when it would not fit
    update: bool = False
    free_disk: int | None = None  # tests: the free space to plan with


def pull(
    reference: str,
    store: ModelStore,
    options: PullOptions,
    *,
    assess: Callable[[ModelSpec], Assessment],
    confirm: Callable[[str], bool] | None,
    out: TextIO,
    terminal: bool | None = None,
) -> PulledModel:
    """Pull ``reference`` into ``store``. ``confirm`` asks the user (None: no terminal to ask
    on). PullRefused says why a pull did not happen."""
    previous: PulledModel | None = None
    if options.update:
        previous = store.get(reference)
        if previous is None:
            raise PullRefused(f"{reference} is not a pulled model: `multai list` shows them")
        want = wanted(previous.catalog or previous.source)
        file = previous.file or want.file
        if file is None and previous.files:  # recorded before the file choice was
            if previous.backend == "llamacpp":
                file = gguf_quantization(previous.files[0])  # the same quantization, newer
            elif previous.backend == "piper":
                file = previous.files[0]  # the same voice
        want = Wanted(
            want.repo, file, None, previous.backend, want.catalog, want.options, reference
        )
        model_name = previous.name
    else:
        want = wanted(reference)
        model_name = options.name or want.default_name
        if (problem := name_problem(model_name)) is not None:
            raise PullRefused(f"{problem}; choose one with --name")
        if store.get(model_name) is not None:
            raise PullRefused(
                f"{model_name} is already pulled: `multai pull --update {model_name}` fetches "
                "its newest revision, --name pulls it under another name"
            )
    snap = snapshot(want.repo, want.revision)
    if previous is not None and snap.revision == previous.revision:
        out.write(f"{model_name} is up to date ({want.repo}@{snap.revision[:12]})\n")
        return previous
    choice = select(
        {p: f.size for p, f in snap.files.items()},
        want,
        backend=options.backend or (previous.backend if previous else None),
        sniffed=_sniff(snap, want, options.backend),
    )
    size = sum(snap.files[p].size for p in choice.files)
    check_disk(size, store.root, options.free_disk)
    out.write(
        f"{model_name}: {choice.backend} model from {want.repo}@{snap.revision[:12]}, "
        f"{len(choice.files)} file(s), {human_size(size)}\n"
    )
    verdict = _assess(snap, choice, model_name, want, assess)
    out.write(f"  {verdict.text}\n")
    out.flush()
    if not verdict.fits and not options.yes:
        if confirm is None:
            raise PullRefused(
                f"{model_name} would not fit in this machine's memory now; pass --yes to pull "
                "it anyway"
            )
        if not confirm(f"{model_name} would not fit in memory now. Pull it anyway?"):
            raise PullRefused("not pulled")
    folder = store.folder_for(model_name)
    old = previous.files if previous is not None else ()
    fetch(snap, choice.files, folder, Progress(out, size, terminal=terminal), replacing=old)
    model = PulledModel(
        name=model_name,
        backend=choice.backend,
        path=str(folder / choice.model_file) if choice.model_file else str(folder),
        source=want.repo,
        catalog=want.catalog,
        file=want.file,
        revision=snap.revision,
        files=choice.files,
        size_bytes=size,
        pulled_at=time.time(),
        options=want.options,
        aliases=previous.aliases if previous is not None else (),
    )
    store.record(model)
    out.write(f"pulled {model_name}: `multai serve` serves it as {model_name!r}\n")
    return model


def _sniff(snap: Snapshot, want: Wanted, backend: str | None) -> str | None:
    """The backend the repository's own config names, when the user did not name one."""
    if backend or want.backend or any(p.endswith(".gguf") for p in snap.files):
        return None
    for path in ("model_index.json", "config.json"):
        file = snap.files.get(path)
        if file is not None and 0 < file.size <= CONFIG_BYTES:
            try:
                found = sniff_config(json.loads(read_range(snap, path, 0, file.size)))
            except ValueError:
                continue
            if found:
                return found
    return None


def _assess(
    snap: Snapshot,
    choice: Selection,
    name: str,
    want: Wanted,
    assess: Callable[[ModelSpec], Assessment],
) -> Assessment:
    with tempfile.TemporaryDirectory(prefix="multai-pull-") as tmp:
        stand_in(snap, choice.files, Path(tmp))
        path = Path(tmp) / choice.model_file if choice.model_file else Path(tmp)
        spec = ModelSpec(name=name, backend=choice.backend, path=str(path), options=want.options)
        return assess(spec)


class _JsonLines:
    """The worker's stdout: each line of text becomes {"line": ...}."""

    def __init__(self) -> None:
        self._part = ""

    def write(self, text: str) -> int:
        self._part += text
        *lines, self._part = self._part.split("\n")
        for line in lines:
            if line:
                _emit({"line": line})
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def start_worker(request: dict[str, Any], *, answers: bool) -> subprocess.Popen[str]:
    """A worker process (``worker_main``) for ``request``, in this process's environment less
    the offline switches (only the worker goes online), its JSON lines on stdout; with
    ``answers``, stdin is open for the answers to its memory questions."""
    return subprocess.Popen(
        [sys.executable, "-m", "multai_core.store.pull", json.dumps(request)],
        stdin=subprocess.PIPE if answers else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k not in offline.OFFLINE_ENV},
        text=True,
    )


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _ask_parent(spec: ModelSpec) -> Assessment:
    """The server holds the memory manager: it answers for the stand-in on stdin."""
    _emit({"assess": msgspec.to_builtins(spec)})
    answer = json.loads(sys.stdin.readline() or "{}")
    return Assessment(str(answer.get("text", "no memory estimate")), bool(answer.get("fits", True)))


def worker_main(argv: list[str]) -> int:
    """A pull for the server, in a process of its own (the server's is offline by design):
    argv[0] is {"model", "name", "backend", "update", "yes", "models_dir"} as JSON, or
    {"mirror": a PulledModel, "relative", "models_dir"} to copy a model another machine
    pulled; stdout carries JSON lines (line, assess, done, copied, error)."""
    request = json.loads(argv[0])
    if "mirror" in request:
        return _mirror_main(request)
    options = PullOptions(
        name=request.get("name"),
        backend=request.get("backend"),
        yes=bool(request.get("yes")),
        update=bool(request.get("update")),
    )
    try:
        model = pull(
            str(request["model"]),
            ModelStore(Path(request["models_dir"])),
            options,
            assess=_ask_parent,
            confirm=None,
            out=_JsonLines(),  # type: ignore[arg-type]
            terminal=False,
        )
    except PullRefused as exc:
        _emit({"error": str(exc)})
        return 1
    _emit({"done": msgspec.to_builtins(model)})
    return 0


def _mirror_main(request: dict[str, Any]) -> int:
    model = msgspec.convert(request["mirror"], PulledModel)
    store = ModelStore(Path(request["models_dir"]))
    try:
        copied = mirror(model, str(request["relative"]), store, _JsonLines())  # type: ignore[arg-type]
    except PullRefused as exc:
        _emit({"error": str(exc)})
        return 1
    _emit({"copied": copied})
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
