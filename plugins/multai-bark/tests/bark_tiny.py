"""A tiny random Bark, built once per test session and saved the way the published folders are:
BarkModel.save_pretrained (safetensors, config.json, generation_config.json) and
BarkProcessor.save_pretrained (tokenizer and the speaker_embeddings library of named presets).

The sub-models' token ids fit together as in the real model, scaled down (semantic vocabulary
32, codebooks of 16). A generation always speaks SEMANTIC_TOKENS tokens (min = max new tokens),
so every generation lasts exactly SEGMENT_SAMPLES samples: tests can count them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

PRESETS = ("v2/en_speaker_6", "v2/en_speaker_9", "announcer")
SAMPLE_RATE = 24_000
SEMANTIC_TOKENS = 40
SEMANTIC_RATE_HZ = 49.9
HOP = 8 * 5 * 4 * 2  # Encodec upsampling ratios: 320 samples per frame at 75 Hz
SEGMENT_SAMPLES = 19_200
"""round(40 / 49.9 * 75) frames * 2 codebooks -> 60 frames (as Bark rounds) * 320 samples."""

SEMANTIC_VOCAB = 32
TEXT_OFFSET = 40
CODEBOOK = 16
MAX_TEXT_TOKENS = 32


def _tokenizer():  # type: ignore[no-untyped-def]
    from transformers import BertTokenizer

    chars = [chr(c) for c in range(33, 127)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{c}" for c in chars)]
    return BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=False)


def build_tiny_bark(folder: Path) -> Path:
    os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    import torch
    from transformers import (
        BarkConfig,
        BarkModel,
        BarkProcessor,
        EncodecConfig,
        GenerationConfig,
    )
    from transformers.models.bark.configuration_bark import (
        BarkCoarseConfig,
        BarkFineConfig,
        BarkSemanticConfig,
    )

    tokenizer = _tokenizer()
    text_pad = TEXT_OFFSET + len(tokenizer)
    semantic_infer = text_pad + 4
    coarse_pad = SEMANTIC_VOCAB + 2 * CODEBOOK
    small = {"num_layers": 1, "num_heads": 2, "hidden_size": 16}
    config = BarkConfig(
        semantic_config=BarkSemanticConfig(
            block_size=128,
            input_vocab_size=semantic_infer + 1,
            output_vocab_size=SEMANTIC_VOCAB + 8,
            **small,
        ).to_dict(),
        coarse_acoustics_config=BarkCoarseConfig(
            block_size=256,
            input_vocab_size=coarse_pad + 8,
            output_vocab_size=coarse_pad + 8,
            **small,
        ).to_dict(),
        fine_acoustics_config=BarkFineConfig(
            block_size=128,
            input_vocab_size=CODEBOOK + 1,
            output_vocab_size=CODEBOOK + 1,
            n_codes_total=8,
            n_codes_given=1,
            **small,
        ).to_dict(),
        codec_config=EncodecConfig(
            hidden_size=16,
            num_filters=4,
            num_residual_layers=1,
            upsampling_ratios=[8, 5, 4, 2],
            target_bandwidths=[1.5, 6.0],
            codebook_size=CODEBOOK,
            codebook_dim=16,
            num_lstm_layers=1,
            sampling_rate=SAMPLE_RATE,
        ).to_dict(),
    )
    torch.manual_seed(0)
    model = BarkModel(config)
    with torch.no_grad():
        # Encodec codebooks start at zero, which makes every code sound the same; wide random
        # codebooks make different codes (voices) sound clearly different.
        for layer in model.codec_model.quantizer.layers:
            layer.codebook.embed.normal_(std=20.0)
    # A plain GenerationConfig: a BarkGenerationConfig object breaks save and generate.
    model.generation_config = GenerationConfig(
        semantic_config={
            "eos_token_id": SEMANTIC_VOCAB,
            "text_encoding_offset": TEXT_OFFSET,
            "text_pad_token": text_pad,
            "semantic_infer_token": semantic_infer,
            "semantic_vocab_size": SEMANTIC_VOCAB,
            "max_input_semantic_length": MAX_TEXT_TOKENS,
            "max_new_tokens": SEMANTIC_TOKENS,
            "min_new_tokens": SEMANTIC_TOKENS,
            "semantic_rate_hz": SEMANTIC_RATE_HZ,
        },
        coarse_acoustics_config={
            "coarse_semantic_pad_token": coarse_pad,
            "coarse_infer_token": coarse_pad + 2,
            "n_coarse_codebooks": 2,
            "coarse_rate_hz": 75,
            "max_coarse_input_length": 32,
            "max_coarse_history": 60,
            "sliding_window_len": 30,
        },
        fine_acoustics_config={
            "max_fine_history_length": 32,
            "max_fine_input_length": 64,
            "n_fine_codebooks": 8,
        },
        sample_rate=SAMPLE_RATE,
        codebook_size=CODEBOOK,
    )
    model.save_pretrained(folder)

    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as scratch:
        library: dict[str, object] = {"repo_or_path": scratch}
        for name in PRESETS:
            arrays = {
                "semantic_prompt": rng.integers(0, SEMANTIC_VOCAB, size=24),
                "coarse_prompt": rng.integers(0, CODEBOOK, size=(2, 36)),
                "fine_prompt": rng.integers(0, CODEBOOK, size=(8, 36)),
            }
            files = {}
            for key, array in arrays.items():
                file_name = f"{name.replace('/', '_')}_{key}.npy"
                np.save(Path(scratch) / file_name, array)
                files[key] = file_name
            library[name] = files
        BarkProcessor(tokenizer, speaker_embeddings=library).save_pretrained(str(folder))
    return folder


def build_mute_bark(tiny: Path, folder: Path) -> Path:
    """The tiny Bark without its minimum of semantic tokens. Served with a small ``min_eos_p``
    option its semantic stage ends at the first step, every time: the short generation that
    real Bark samples now and then, made deterministic."""
    shutil.copytree(tiny, folder)
    config_file = folder / "generation_config.json"
    generation = json.loads(config_file.read_text(encoding="utf-8"))
    generation["semantic_config"]["min_new_tokens"] = 0
    config_file.write_text(json.dumps(generation), encoding="utf-8")
    return folder
