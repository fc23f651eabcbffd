"""Where a model's files are: the configured folder, or the packaged default's cache folder."""

from __future__ import annotations

from pathlib import Path

from multai_core.plugin_api import ModelSpec
from multai_whisper.options import WhisperOptions
from multai_whisper.packaged import (
    MODEL_FILE,
    PackagedModel,
    default_folder,
    ensure_assembled,
    find_packaged,
)


def _packaged(options: WhisperOptions) -> PackagedModel | None:
    if options.packaged_model is None:
        return None
    model = find_packaged()
    if model is None:
        raise FileNotFoundError(
            f"packaged model {options.packaged_model!r} is not installed: "
            "pip install 'multai-whisper[default-model]'"
        )
    return model


def _folder(spec: ModelSpec, packaged: PackagedModel | None) -> Path:
    if spec.path:
        return Path(spec.path).expanduser()
    if packaged is not None:
        return default_folder(packaged)
    raise FileNotFoundError(f"model {spec.name!r}: the whisper backend needs a model folder path")


def header_paths(spec: ModelSpec, options: WhisperOptions) -> list[Path]:
    """The file(s) holding model.bin, for reading its header: the assembled file, or the
    packaged parts before their first assembly."""
    packaged = _packaged(options)
    assembled = _folder(spec, packaged) / MODEL_FILE
    if assembled.is_file():
        return [assembled]
    if packaged is not None:
        return list(packaged.parts)
    raise FileNotFoundError(f"model {spec.name!r}: no {MODEL_FILE} in {assembled.parent}")


def folder_for_load(spec: ModelSpec, options: WhisperOptions) -> Path:
    """The CTranslate2 model folder, assembled and checked first for a packaged model."""
    packaged = _packaged(options)
    folder = _folder(spec, packaged)
    if packaged is not None:
        return ensure_assembled(packaged, folder)
    if not (folder / MODEL_FILE).is_file():
        raise FileNotFoundError(f"model {spec.name!r}: no {MODEL_FILE} in {folder}")
    return folder
