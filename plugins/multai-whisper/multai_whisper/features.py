"""faster-whisper's log-Mel features, computed 30 s at a time.

faster-whisper's FeatureExtractor runs one STFT over the whole upload: frames, complex128
spectrum and magnitudes of every frame exist at once, about 0.7 MB per second of audio (5 GB
for a two-hour call). This subclass gives the same features (same framing, window, FFT and
normalisation) while holding only the Mel spectrogram (32 KB per second) and one block's
intermediates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor

if TYPE_CHECKING:
    import numpy.typing as npt

BLOCK_FRAMES = 3000
"""Frames per STFT block: 30 s at Whisper's 10 ms hop."""


class BlockwiseFeatureExtractor(FeatureExtractor):  # type: ignore[misc]
    def __call__(
        self, waveform: npt.NDArray[Any], padding: int = 160, chunk_length: int | None = None
    ) -> npt.NDArray[np.float32]:
        if chunk_length is not None:
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        n_fft, hop = self.n_fft, self.hop_length
        signal = padded_signal(waveform, padding, n_fft // 2)
        window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
        frames = 1 + (signal.shape[0] - n_fft) // hop - 1  # the last frame is dropped
        mel = np.empty((self.mel_filters.shape[0], max(frames, 0)), dtype=np.float32)
        step = signal.strides[0]
        for start in range(0, frames, BLOCK_FRAMES):
            stop = min(start + BLOCK_FRAMES, frames)
            block = np.lib.stride_tricks.as_strided(
                signal[start * hop :], (stop - start, n_fft), (hop * step, step), writeable=False
            )
            spectrum = np.fft.rfft(block * window, n=n_fft, axis=-1).astype(np.complex64)
            magnitudes = np.abs(spectrum.T) ** 2
            mel[:, start:stop] = self.mel_filters @ magnitudes
        np.clip(mel, 1e-10, None, out=mel)
        np.log10(mel, out=mel)
        if mel.size:
            np.maximum(mel, mel.max() - 8.0, out=mel)
        mel += 4.0
        mel /= 4.0
        return mel


def padded_signal(waveform: npt.NDArray[Any], padding: int, half: int) -> npt.NDArray[np.float32]:
    """``padding`` zeros appended, then ``half`` samples reflected at both ends (the STFT's
    center=True), built in one buffer: one copy of the audio instead of two."""
    size = waveform.shape[0] + padding
    if size <= half:  # a few milliseconds: reflection repeats, leave it to numpy
        return np.pad(np.pad(waveform.astype(np.float32), (0, padding)), (half, half), "reflect")
    signal = np.zeros(size + 2 * half, dtype=np.float32)
    signal[half : half + waveform.shape[0]] = waveform
    signal[:half] = signal[half + 1 : 2 * half + 1][::-1]
    last = half + size - 1
    signal[last + 1 :] = signal[last - half : last][::-1]
    return signal
