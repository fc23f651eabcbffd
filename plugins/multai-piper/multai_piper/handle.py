"""A loaded Piper voice: piper's PiperVoice over an onnxruntime session on the placement's
device, with the voice table and the synthesis settings of the model's options."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import structlog

from multai_core.plugin_api import ModelSpec, Placement, offline
from multai_piper.options import PiperOptions, parse_options, resolve_cpu_threads
from multai_piper.tempo import natural_samples, pace
from multai_piper.time_stretch import stretch
from multai_piper.voice_files import VoiceFile, read_voice
from multai_piper.voices import VoiceTable

log = structlog.get_logger(__name__)


@dataclass(eq=False)
class PiperHandle:
    spec: ModelSpec
    options: PiperOptions
    voice_file: VoiceFile
    voices: VoiceTable
    voice: Any  # piper.PiperVoice
    sample_rate: int
    closed: bool = False
    _phonemize_lock: threading.Lock = field(default_factory=threading.Lock)

    def phonemize(self, text: str) -> list[list[str]]:
        """The phonemes of each sentence, as espeak-ng splits them."""
        # piper locks espeak-ng itself, not the phonemizers it creates lazily for other scripts
        with self._phonemize_lock:
            sentences: list[list[str]] = self.voice.phonemize(text)
        return [sentence for sentence in sentences if sentence]

    def length_scale(self, speed: float) -> float:
        """Piper's length scale for ``speed`` (the part of it that :mod:`tempo` leaves to
        the model)."""
        base = self.options.length_scale or float(self.voice.config.length_scale)
        return base / pace(speed)

    def speak(self, phonemes: list[str], speaker_id: int | None, speed: float) -> Spoken:
        """One inference: mono float32 samples at ``sample_rate``, peak-normalised, as long
        as the voice's own pace divided by ``speed``."""
        from piper import SynthesisConfig

        ids: list[int] = self.voice.phonemes_to_ids(phonemes)
        config = SynthesisConfig(
            speaker_id=speaker_id,
            length_scale=self.length_scale(speed),
            noise_scale=self.options.noise_scale,
            noise_w_scale=self.options.noise_w_scale,
        )
        raw = np.asarray(self.voice.phoneme_ids_to_audio(ids, config), dtype=np.float32)
        audio = normalise(raw.reshape(-1))
        hop = int(self.voice.config.hop_length)
        target = natural_samples(audio.size, len(ids), hop, pace(speed)) / speed
        if target > 0:
            audio = stretch(audio, self.sample_rate, audio.size / target)
        return Spoken(audio=audio, phoneme_ids=len(ids))

    def close(self) -> None:
        self.closed = True
        self.voice = None


@dataclass(frozen=True)
class Spoken:
    audio: np.ndarray
    phoneme_ids: int


PEAK = 0.9
"""Piper scales each sentence to full range; a little headroom keeps lossy codecs from
clipping."""


def normalise(audio: np.ndarray) -> np.ndarray:
    audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-8:
        return np.zeros_like(audio)
    scaled: np.ndarray = (audio * np.float32(PEAK / peak)).astype(np.float32)
    return scaled


def _session_options(options: PiperOptions, placement: Placement) -> Any:
    import onnxruntime

    session_options = onnxruntime.SessionOptions()
    threads = resolve_cpu_threads(options, placement.cpu_threads)
    if threads:
        session_options.intra_op_num_threads = threads
        session_options.inter_op_num_threads = 1
    # The arena would keep the largest inference's buffers for the life of the model; the
    # estimate makes room for them while a request runs, and the RAM goes back after.
    session_options.enable_cpu_mem_arena = False
    return session_options


def load(spec: ModelSpec, placement: Placement) -> PiperHandle:
    options = parse_options(spec.options, spec.name)
    voice_file = read_voice(spec, options)
    voices = VoiceTable(voice_file, options, spec.name)
    offline.enforce(force=True)
    import onnxruntime
    from piper import PiperConfig, PiperVoice

    gpu = placement.kind != "cpu" and placement.device.startswith("cuda")
    providers: list[Any] = ["CPUExecutionProvider"]
    if gpu:
        index = placement.gpu_index or 0
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": index}))
    session = onnxruntime.InferenceSession(
        str(voice_file.model),
        sess_options=_session_options(options, placement),
        providers=providers,
    )
    voice = PiperVoice(session=session, config=PiperConfig.from_dict(voice_file.config))
    log.info("piper_loaded", model=spec.name, device=placement.device if gpu else "cpu")
    return PiperHandle(
        spec=spec,
        options=options,
        voice_file=voice_file,
        voices=voices,
        voice=voice,
        sample_rate=voice_file.sample_rate,
    )
