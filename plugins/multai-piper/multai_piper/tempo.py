"""Speed. Piper's length scale paces the speech naturally, but VITS rounds every phoneme id's
duration up to whole frames, so the audio is not 1/speed as long (2x asks for 0.5 of the
length and gets about 0.6), and the rounding floor caps how fast it can go. So the length
scale takes the speed within [MIN_PACE, MAX_PACE] and a time stretch
(:mod:`multai_piper.time_stretch`) makes up the rest, measured per piece: the length at the
voice's own pace is known from the audio made, since the rounding adds half a frame per id on
average whatever the scale."""

from __future__ import annotations

MIN_PACE = 0.5
MAX_PACE = 2.0


def pace(speed: float) -> float:
    """The part of ``speed`` the length scale takes."""
    return min(max(speed, MIN_PACE), MAX_PACE)


def natural_samples(samples: int, ids: int, hop: int, pace: float) -> float:
    """The length, in samples, the piece would have at the voice's own pace."""
    rounding = 0.5 * ids * hop
    return max(samples - rounding, 0.0) * pace + rounding
