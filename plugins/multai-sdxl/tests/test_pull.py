"""Pull the tiny SDXL from a fake hub on loopback by its hub reference, laid out as diffusers
repositories on the hub are (pickled and fp16 twins, a single-file checkpoint at the top), then
`multai serve` it from the model store alone and make an image through the SDK."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import multai_sdxl.plugin
import pytest
from openai import OpenAI
from PIL import Image
from sdxl_testing import SERVER_ENV, TinyModels

from multai_core.engine.memory import MemoryManager
from multai_core.engine.packs import Packs
from multai_core.plugins import make_plugin_manager
from multai_core.store.catalog import PullRefused
from multai_core.store.manifest import ModelStore, PulledModel
from multai_core.store.preflight import assessor
from multai_core.store.pull import PullOptions, pull
from multai_core.testing.fake_hub import FakeHub, folder_files
from multai_core.testing.server import multai_process

REPO = "acme/tiny-sdxl"
UNET = "unet/diffusion_pytorch_model"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    with FakeHub() as fake:
        fake.aim_this_process(monkeypatch, tmp_path / "hf-home")
        yield fake


def sdxl_pull(store: ModelStore) -> tuple[PulledModel, str]:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(multai_sdxl.plugin)
    packs = Packs(pm)
    out = io.StringIO()
    model = pull(
        REPO,
        store,
        PullOptions(yes=True),
        assess=assessor(packs.hooks.keys(), MemoryManager(packs)),
        confirm=None,
        out=out,
    )
    return model, out.getvalue()


def test_a_pulled_sdxl_fetches_the_pipeline_folders_only_and_is_served(
    hub: FakeHub, tiny_models: TinyModels, tmp_path: Path
) -> None:
    files = folder_files(tiny_models.sdxl)
    unet = files[f"{UNET}.safetensors"]
    not_needed = {
        "README.md": b"# tiny sdxl\n",
        ".gitattributes": b"*.safetensors filter=lfs\n",
        "tiny_sdxl_1.0.safetensors": unet,  # the single-file checkpoint for other tools
        f"{UNET}.fp16.safetensors": unet,  # the variant a plain load does not read
        f"{UNET}.bin": b"\x80\x04 a pickle stand-in",
        # an ONNX export beside the pipeline, as sdxl-turbo has: a folder diffusers ignores
        "vae_decoder/config.json": files["vae/config.json"],
        "vae_decoder/model.onnx": b"an onnx stand-in",
        "unet/model.onnx": b"an onnx stand-in",
    }
    sha = hub.add_commit(REPO, {**files, **not_needed})
    store = ModelStore(tmp_path / "models")

    model, out = sdxl_pull(store)

    # the backend comes from model_index.json (StableDiffusionXLPipeline)
    assert (model.name, model.backend, model.revision) == ("tiny-sdxl", "sdxl", sha)
    # the sdxl plugin's own estimate ran on the header-only stand-in
    assert "needs" in out and "MiB of RAM" in out, out
    unet_reads = hub.ranges(f"{UNET}.safetensors")
    header_reads = [r for r in unet_reads if r is not None and not r.endswith("-")]
    assert header_reads and all(r.startswith("bytes=0-") for r in header_reads), unet_reads
    assert hub.downloaded(REPO) == set(files) == set(model.files)
    assert folder_files(Path(model.path)) == files

    config = tmp_path / "multai.toml"
    config.write_text(f'default_models = false\n[server]\nmodels_dir = "{store.root}"\n')
    with multai_process(
        config=config,
        log_path=tmp_path / "server.log",
        env={**SERVER_ENV, "MULTAI_LOAD_PLUGINS": "sdxl"},
    ) as base_url:
        client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=120)
        assert [m.id for m in client.models.list()] == ["tiny-sdxl"]
        response = client.images.generate(model="tiny-sdxl", prompt="a red mug", size="64x64")
    data = (response.data or [])[0].b64_json or ""
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    assert (image.format, image.size) == ("PNG", (64, 64))
    low, high = image.convert("L").getextrema()
    assert low < high  # a picture, not one flat colour


def test_a_pipeline_with_a_pickled_component_is_refused_before_any_download(
    hub: FakeHub, tiny_models: TinyModels, tmp_path: Path
) -> None:
    files = folder_files(tiny_models.sdxl)
    del files[f"{UNET}.safetensors"]
    hub.add_commit(REPO, {**files, f"{UNET}.bin": b"\x80\x04 a pickle stand-in"})
    store = ModelStore(tmp_path / "models")

    with pytest.raises(PullRefused, match=r"the unet of acme/tiny-sdxl has only pickled weights"):
        sdxl_pull(store)

    assert hub.downloaded(REPO) == set()
    assert store.entries() == []
