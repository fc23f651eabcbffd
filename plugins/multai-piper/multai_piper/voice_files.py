"""A Piper voice on disk: the ONNX model and its JSON config. Reading one is cheap (a stat and
a few kilobytes of JSON), so the estimate and the voices listing do it without a load."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multai_core.plugin_api import ModelSpec, ServiceUnavailable
from multai_piper.options import PiperOptions

MODEL_SUFFIX = ".onnx"


@dataclass(frozen=True)
class VoiceFile:
    model: Path
    model_bytes: int
    config: dict[str, Any]
    """The JSON config as Piper reads it (``piper.config.PiperConfig.from_dict``)."""
    name: str
    """The voice's own name: its dataset (``joe``), else the file name without suffix."""
    sample_rate: int
    speakers: dict[str, int]
    """Speaker name -> id of a multi-speaker voice, in id order; empty for one speaker."""
    default_speaker: int
    language: str | None
    """ISO 639-1 code of the voice's language."""


def model_file(spec: ModelSpec) -> Path:
    """``spec.path`` itself, or the one ``.onnx`` file in that folder."""
    path = Path(spec.path).expanduser()
    if path.is_dir():
        found = sorted(path.glob(f"*{MODEL_SUFFIX}"))
        if len(found) != 1:
            raise ServiceUnavailable(
                f"Model '{spec.name}': the folder {path} must hold exactly one Piper voice "
                f"(*{MODEL_SUFFIX}), not {len(found)}; set path to the .onnx file."
            )
        return found[0]
    if not path.is_file():
        raise ServiceUnavailable(f"Model '{spec.name}': no Piper voice at {path}.")
    return path


def _language(config: dict[str, Any]) -> str | None:
    language = config.get("language")
    code = ""
    if isinstance(language, dict):
        code = str(language.get("family") or language.get("code") or "")
    espeak = config.get("espeak")
    if not code and isinstance(espeak, dict):
        code = str(espeak.get("voice") or "")
    code = code.replace("-", "_").split("_")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


def read_voice(spec: ModelSpec, options: PiperOptions) -> VoiceFile:
    model = model_file(spec)
    config_path = (
        Path(options.config_path).expanduser()
        if options.config_path
        else model.with_name(model.name + ".json")
    )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        sample_rate = int(config["audio"]["sample_rate"])
        speakers = {str(k): int(v) for k, v in (config.get("speaker_id_map") or {}).items()}
        if not speakers and int(config.get("num_speakers", 1)) > 1:
            speakers = {str(i): i for i in range(int(config["num_speakers"]))}
        default_speaker = int(config.get("default_speaker_id", 0))
    except FileNotFoundError:
        raise ServiceUnavailable(
            f"Model '{spec.name}': the voice config {config_path} is missing; a Piper voice is "
            "an .onnx file with its .onnx.json beside it."
        ) from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ServiceUnavailable(
            f"Model '{spec.name}': cannot read the voice config {config_path} "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    dataset = config.get("dataset")
    return VoiceFile(
        model=model,
        model_bytes=model.stat().st_size,
        config=config,
        name=dataset if isinstance(dataset, str) and dataset else model.stem,
        sample_rate=sample_rate,
        speakers=dict(sorted(speakers.items(), key=lambda item: item[1])),
        default_speaker=default_speaker,
        language=_language(config),
    )
