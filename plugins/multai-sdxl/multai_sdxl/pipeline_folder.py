"""What a diffusers pipeline folder holds, read from its JSON files and safetensors headers
(cheap and pure: the memory estimate and the size checks use it before anything loads)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multai_core.plugin_api import ServiceUnavailable
from multai_sdxl.safetensors_header import TensorTotals, read_totals

UNSAFE_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


@dataclass(frozen=True)
class PipelineFolder:
    path: Path
    class_name: str
    weights: dict[str, TensorTotals]
    vae_scale_factor: int
    unet_sample_size: int
    unet_channels: tuple[int, ...]
    vae_channels: tuple[int, ...]
    vae_force_upcast: bool
    vae_tile_size: int

    @property
    def native_size(self) -> int:
        """The side, in pixels, the UNet was trained at (e.g. 512 for SDXL-Turbo)."""
        return self.unet_sample_size * self.vae_scale_factor


def _json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ServiceUnavailable(
            f"Cannot read {path.parent.name}/{path.name} of the image model: {type(exc).__name__}."
        ) from exc
    if not isinstance(loaded, dict):
        raise ServiceUnavailable(f"{path.parent.name}/{path.name} is not a JSON object.")
    return loaded


def _weight_files(component: Path, variant: str | None) -> list[Path]:
    """The component's safetensors files of the wanted variant: ``x.safetensors`` and shards
    ``x-00001-of-00002.safetensors`` without a variant, ``x.<variant>[-shard].safetensors``
    with one."""
    files = sorted(component.glob("*.safetensors"))
    if variant:
        return [f for f in files if f".{variant}" in f.name[: -len(".safetensors")]]
    return [f for f in files if "." not in f.name[: -len(".safetensors")]]


def component_weights(component: Path, variant: str | None) -> TensorTotals | None:
    """None for a component without weights (tokenizer, scheduler)."""
    files = _weight_files(component, variant)
    if not files:
        if any(f.suffix in UNSAFE_WEIGHT_SUFFIXES for f in component.iterdir()):
            raise ServiceUnavailable(
                f"The image model's '{component.name}' has no "
                f"{variant + ' ' if variant else ''}safetensors weights (only pickled ones, "
                "which this server does not load); convert it to safetensors."
            )
        return None
    total = TensorTotals()
    for path in files:
        try:
            total = total + read_totals(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ServiceUnavailable(
                f"Cannot read the weights header of '{component.name}/{path.name}': {exc}"
            ) from exc
    return total


def read_folder(path: str | Path, variant: str | None = None) -> PipelineFolder:
    root = Path(path)
    if not (root / "model_index.json").is_file():
        raise ServiceUnavailable(
            f"The image model folder has no model_index.json (is '{root.name}' a diffusers "
            "pipeline folder?)."
        )
    index = _json(root / "model_index.json")
    weights: dict[str, TensorTotals] = {}
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or value[0] is None:
            continue
        folder = root / name
        if folder.is_dir():
            totals = component_weights(folder, variant)
            if totals is not None:
                weights[name] = totals
    if "unet" not in weights and "transformer" not in weights:
        raise ServiceUnavailable("The image model folder has no unet or transformer weights.")
    unet = _json(root / "unet" / "config.json") if (root / "unet").is_dir() else {}
    vae = _json(root / "vae" / "config.json") if (root / "vae").is_dir() else {}
    vae_channels = tuple(int(c) for c in vae.get("block_out_channels", (128, 256, 512, 512)))
    sample = unet.get("sample_size", 64)
    return PipelineFolder(
        path=root,
        class_name=str(index.get("_class_name", "")),
        weights=weights,
        vae_scale_factor=2 ** (len(vae_channels) - 1),
        unet_sample_size=int(sample[0] if isinstance(sample, list) else sample),
        unet_channels=tuple(int(c) for c in unet.get("block_out_channels", (320, 640, 1280))),
        vae_channels=vae_channels,
        vae_force_upcast=bool(vae.get("force_upcast", False)),
        vae_tile_size=int(vae.get("sample_size", 512) or 512),
    )
