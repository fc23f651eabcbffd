"""Rebuild the committed speech fixtures: espeak-ng speaks each sentence into a WAV (22.05 kHz),
which PyAV resamples to 16 kHz mono 16-bit PCM, the rate Whisper works at.

    apt-get install -y espeak-ng        # once
    python plugins/multai-whisper/tests/make_speech_fixtures.py

The sentences live in ``speech_fixtures.SPEECH``, where the tests read their reference text.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speech_fixtures import FIXTURES, SPEECH

RATE = 16000


def to_16k_mono_wav(wav: bytes) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(wav)) as source, av.open(out, "w", format="wav") as target:
        stream = target.add_stream("pcm_s16le", rate=RATE, layout="mono")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        for frame in source.decode(audio=0):
            for converted in resampler.resample(frame):
                target.mux(stream.encode(converted))
        for converted in resampler.resample(None):
            target.mux(stream.encode(converted))
        target.mux(stream.encode(None))
    return out.getvalue()


def main() -> None:
    for name, (voice, speed, text) in SPEECH.items():
        spoken = subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
            check=True,
            capture_output=True,
        ).stdout
        (FIXTURES / name).write_bytes(to_16k_mono_wav(spoken))
        print(f"{name}: {voice}, {speed} words/min: {text}")


if __name__ == "__main__":
    main()
