"""Pull the tiny LLaVA from a fake hub on loopback by its hub reference, in shards with an index
as llava-hf publishes its models, then `multai serve` it from the model store alone and ask
about an image through the SDK."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import multai_llava.plugin
import pytest
from conftest import NO_EOS, RED, SERVER_ENV
from openai import OpenAI

from multai_core.engine.memory import MemoryManager
from multai_core.engine.packs import Packs
from multai_core.plugins import make_plugin_manager
from multai_core.store.manifest import ModelStore
from multai_core.store.preflight import assessor
from multai_core.store.pull import PullOptions, pull
from multai_core.testing.fake_hub import FakeHub, folder_files
from multai_core.testing.image_host import image_part
from multai_core.testing.server import multai_process

REPO = "acme/tiny-llava-hf"
SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")


def sharded(files: dict[str, bytes]) -> dict[str, bytes]:
    """The folder with model.safetensors split in two shards and their index."""
    from safetensors.torch import load, save

    tensors = load(files["model.safetensors"])
    names = sorted(tensors)
    halves = (names[: len(names) // 2], names[len(names) // 2 :])
    out = {p: b for p, b in files.items() if p != "model.safetensors"}
    weight_map = {}
    for shard, keys in zip(SHARDS, halves, strict=True):
        out[shard] = save({k: tensors[k] for k in keys}, metadata={"format": "pt"})
        weight_map |= dict.fromkeys(keys, shard)
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    out["model.safetensors.index.json"] = json.dumps(index).encode()
    return out


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    with FakeHub() as fake:
        fake.aim_this_process(monkeypatch, tmp_path / "hf-home")
        yield fake


def test_a_pulled_sharded_llava_is_detected_estimated_and_answers_about_an_image(
    hub: FakeHub, tiny_llava: Path, tmp_path: Path
) -> None:
    files = sharded(folder_files(tiny_llava))
    not_needed = {
        "README.md": b"# tiny llava\n",
        ".gitattributes": b"*.safetensors filter=lfs\n",
        "pytorch_model.bin": b"\x80\x04 a pickle stand-in",  # the old pickled copy
    }
    sha = hub.add_commit(REPO, {**files, **not_needed})
    store = ModelStore(tmp_path / "models")
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(multai_llava.plugin)
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

    # the backend comes from config.json (LlavaForConditionalGeneration)
    assert (model.name, model.backend, model.revision) == ("tiny-llava-hf", "llava", sha)
    # the llava plugin's own estimate ran on the header-only stand-in of both shards
    assert "needs" in out.getvalue() and "MiB of RAM" in out.getvalue(), out.getvalue()
    for shard in SHARDS:
        reads = hub.ranges(shard)
        header_reads = [r for r in reads if r is not None and not r.endswith("-")]
        assert header_reads and all(r.startswith("bytes=0-") for r in header_reads), reads
    assert hub.downloaded(REPO) == set(files) == set(model.files)
    assert folder_files(Path(model.path)) == files

    config = tmp_path / "multai.toml"
    config.write_text(f'default_models = false\n[server]\nmodels_dir = "{store.root}"\n')
    with multai_process(config=config, log_path=tmp_path / "server.log", env=SERVER_ENV) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)
        assert [m.id for m in client.models.list()] == ["tiny-llava-hf"]
        text_only = client.chat.completions.create(
            model="tiny-llava-hf",
            messages=[{"role": "user", "content": "Describe it."}],
            max_tokens=1,
        )
        reply = client.chat.completions.create(
            model="tiny-llava-hf",
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Describe it."}, image_part(RED)],
                }
            ],
            max_tokens=4,
            temperature=0,
            logit_bias=NO_EOS,
        )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 4
    assert text_only.usage is not None
    # the image reached the model: 32x32 pixels in 8x8 patches plus a class token
    assert reply.usage.prompt_tokens - text_only.usage.prompt_tokens >= 17
