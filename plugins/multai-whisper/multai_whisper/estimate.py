"""Memory estimate from the model.bin header and the compute type each placement would use
(no weights read, no CTranslate2 import).

Weights: CTranslate2 quantizes the weight matrices (linear, convolution and embedding weights)
to the compute type's weight type, with one float32 scale per row for the integer types, and
converts every other float tensor to the compute type's float type. Beside the weights: the
model file, which loading reads into host memory and converts (the allocator keeps the room),
the runtime and tokenizer; while decoding, the encoder's attention scores over a 30 s window
and, per beam or sampled candidate, the decoder's cross-attention and self-attention caches;
and the decoded audio with its features for ``working_audio_seconds`` of audio.

Measured on Whisper base with CTranslate2 4.8 on a CPU (peak resident memory added by loading
and one request whose windows fall back to sampling 5 candidates): int8, 30 s: 401 MiB,
600 s: 472 MiB (estimate 666 MiB); float32, 600 s: 836 MiB (estimate 870 MiB).
"""

from __future__ import annotations

from multai_core.plugin_api import MemoryEstimate, ModelSpec
from multai_whisper.ct2_header import ModelHeader, read_header
from multai_whisper.model_files import header_paths
from multai_whisper.options import WhisperOptions, parse_options

MIB = 1024 * 1024
HOST_RUNTIME_BYTES = 64 * MIB
"""CTranslate2's runtime, the Hugging Face tokenizer and faster-whisper's feature extractor."""
GPU_RUNTIME_BYTES = 128 * MIB
"""cuBLAS/cuDNN workspaces and CTranslate2's caching allocator slack on a GPU."""
WINDOW_FRAMES = 1500
"""Encoder positions of one 30 s window."""
MAX_TEXT_POSITIONS = 448
AUDIO_BYTES_PER_SECOND = 160 * 1024
"""Decoded 16 kHz float32 samples, their padded copy for the STFT, and the Mel spectrogram."""

# compute type -> (bytes per quantized weight element, bytes per other float element)
_TYPE_BYTES = {
    "int8": (1, 4),
    "int8_float32": (1, 4),
    "int8_float16": (1, 2),
    "int8_bfloat16": (1, 2),
    "int16": (2, 4),
    "float16": (2, 2),
    "bfloat16": (2, 2),
    "float32": (4, 4),
}
_FLOAT_DTYPES = frozenset({"float32", "float16", "bfloat16"})


def estimate(spec: ModelSpec) -> MemoryEstimate:
    options = parse_options(spec.options)
    return estimate_from_header(read_header(header_paths(spec, options)), options)


def weight_bytes(header: ModelHeader, compute_type: str) -> int:
    weight_size, float_size = _TYPE_BYTES[compute_type]
    integer_weights = weight_size < float_size or compute_type == "int16"
    total = 0
    for v in header.variables:
        quantizable = len(v.shape) >= 2 and v.name.endswith("/weight")
        if quantizable and v.dtype in _FLOAT_DTYPES:
            total += v.elements * weight_size
            if integer_weights:
                total += 4 * v.shape[0]  # one float32 scale per output row
        elif v.dtype in _FLOAT_DTYPES and v.shape:
            total += v.elements * float_size
        else:
            total += v.nbytes
    return total


def activation_bytes(header: ModelHeader, candidates: int, float_size: int) -> int:
    scores = header.encoder_heads * WINDOW_FRAMES * WINDOW_FRAMES * float_size
    per_candidate = header.layers("decoder") * 2 * (WINDOW_FRAMES + MAX_TEXT_POSITIONS)
    return scores + candidates * per_candidate * header.d_model * float_size


def estimate_from_header(header: ModelHeader, options: WhisperOptions) -> MemoryEstimate:
    audio = int(options.working_audio_seconds * AUDIO_BYTES_PER_SECOND)
    load_buffer = header.file_bytes
    cpu_float = _TYPE_BYTES[options.cpu_compute_type][1]
    gpu_float = _TYPE_BYTES[options.gpu_compute_type][1]
    candidates = max(options.beam_size, options.best_of if options.temperature_fallback else 1)
    cpu_bytes = (
        weight_bytes(header, options.cpu_compute_type)
        + load_buffer
        + HOST_RUNTIME_BYTES
        + activation_bytes(header, candidates, cpu_float)
        + audio
    )
    gpu_bytes = (
        weight_bytes(header, options.gpu_compute_type)
        + GPU_RUNTIME_BYTES
        + activation_bytes(header, candidates, gpu_float)
    )
    return MemoryEstimate(
        cpu_bytes=cpu_bytes,
        gpu_bytes=gpu_bytes,
        gpu_host_bytes=HOST_RUNTIME_BYTES + load_buffer + audio,
        supports_gpu=True,
    )
