"""The usual ``Backend.check`` of a model's ``path``: present, existing, a file or a folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from multai_core.plugin_api.types import ModelSpec

PathKind = Literal["file", "folder", "file_or_folder"]


def path_check(kind: PathKind, what: str) -> Callable[[ModelSpec], str | None]:
    """A check that ``spec.path`` names an existing ``kind``; ``what`` says what the backend
    wants there, for the message (e.g. "a GGUF file")."""

    def check(spec: ModelSpec) -> str | None:
        needs = f"(the {spec.backend} backend needs {what})"
        if not spec.path:
            return f"no path: set path to {what}, which the {spec.backend} backend needs"
        path = Path(spec.path)
        if not path.exists():
            return f"path {spec.path} does not exist {needs}"
        if kind == "file" and not path.is_file():
            return f"path {spec.path} is not a file {needs}"
        if kind == "folder" and not path.is_dir():
            return f"path {spec.path} is not a folder {needs}"
        return None

    return check
