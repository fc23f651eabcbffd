"""The blockwise log-Mel features equal faster-whisper's own, for every length (including the
edges of a block and clips shorter than one FFT window)."""

from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor
from multai_whisper.features import BLOCK_FRAMES, BlockwiseFeatureExtractor, padded_signal
from speech_fixtures import fixture_path
from transcoding import joined

HOP = 160


@pytest.mark.parametrize(
    "size",
    [
        1,
        100,
        199,
        200,
        201,
        400,
        401,
        16000,
        BLOCK_FRAMES * HOP - 1,
        BLOCK_FRAMES * HOP,
        BLOCK_FRAMES * HOP + 1,
        2 * BLOCK_FRAMES * HOP + 12345,
    ],
)
def test_same_features_as_faster_whisper(size: int) -> None:
    speech = joined([fixture_path("en_call.wav")], seconds=max(1.0, size / 16000))[:size]
    assert speech.size == size
    ours = BlockwiseFeatureExtractor()(speech)
    theirs = FeatureExtractor()(speech)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    assert np.allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("size", [1, 5, 199, 200, 201, 202, 1000])
@pytest.mark.parametrize("padding", [0, 160])
def test_padded_signal_matches_numpy(size: int, padding: int) -> None:
    signal = np.random.default_rng(size).standard_normal(size).astype(np.float32)
    expected = np.pad(np.pad(signal, (0, padding)), (200, 200), mode="reflect")
    assert np.array_equal(padded_signal(signal, padding, 200), expected)
