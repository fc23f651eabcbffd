"""Memory estimate from the voice file's size and its JSON config (no onnxruntime or piper
import, no weights read).

Beside the session (the ONNX weights as onnxruntime holds them, about 1.4 times the file) and
the runtime (onnxruntime, espeak-ng's data, numpy, PyAV), one inference needs memory in
proportion to the audio it makes: VITS's decoder upsamples to the output rate. The longest
piece of audio one inference makes is bounded by ``max_piece_phonemes``.

Measured on en_US-joe-medium (63 MB file, 22.05 kHz) with onnxruntime 1.32 on a CPU, one
thread, resident memory over the loaded session: 5.1 s of audio 98 MiB, 21 s 413-491 MiB
(870-1040 bytes per output sample); the session 86 MiB; the imports 52 MiB.
"""

from __future__ import annotations

import importlib.metadata

from multai_core.plugin_api import MemoryEstimate, ModelSpec
from multai_piper.options import PiperOptions, parse_options
from multai_piper.voice_files import VoiceFile, read_voice

MIB = 1024 * 1024
HOST_RUNTIME_BYTES = 96 * MIB
"""onnxruntime, piper with espeak-ng's data, numpy, PyAV and its encoders, one response's
encoded file (flac is kept whole until the end)."""
GPU_RUNTIME_BYTES = 256 * MIB
"""cuDNN workspaces and onnxruntime's CUDA arena slack."""
SESSION_FACTOR = 1.5
BYTES_PER_OUTPUT_SAMPLE = 1100
SECONDS_PER_PHONEME = 0.06
"""At the voice's own pace (measured 0.051-0.053 s; the duration predictor's noise varies)."""
GPU_RUNTIME_DISTRIBUTION = "onnxruntime-gpu"


def gpu_runtime_installed() -> bool:
    """onnxruntime with CUDA is a separate distribution; asking pip's metadata imports nothing."""
    try:
        importlib.metadata.version(GPU_RUNTIME_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def estimate(spec: ModelSpec) -> MemoryEstimate:
    options = parse_options(spec.options, spec.name)
    return estimate_for(read_voice(spec, options), options, spec.concurrency())


def inference_bytes(voice: VoiceFile, options: PiperOptions) -> int:
    """The most one inference holds: the longest piece's audio at the decoder's rate."""
    seconds = options.max_piece_phonemes * SECONDS_PER_PHONEME
    return int(seconds * voice.sample_rate * BYTES_PER_OUTPUT_SAMPLE)


def estimate_for(voice: VoiceFile, options: PiperOptions, concurrency: int = 1) -> MemoryEstimate:
    session = int(voice.model_bytes * SESSION_FACTOR)
    working = concurrency * inference_bytes(voice, options)
    return MemoryEstimate(
        cpu_bytes=HOST_RUNTIME_BYTES + session + working,
        gpu_bytes=GPU_RUNTIME_BYTES + session + working,
        gpu_host_bytes=HOST_RUNTIME_BYTES + voice.model_bytes,
        supports_gpu=gpu_runtime_installed(),
    )
