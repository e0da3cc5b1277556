"""A generated season for intro detection: episodes whose audio is a body of their own (noise
and tones, different in every episode) with the same intro (a chord sequence over noise) at a
known offset, and optionally the same closing credits music at the end. Used by the encoder's
intro tests and `bench/intro_bench.py`; deterministic for a given seed."""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cinemesh.services.encoder.public import ffmpeg_exe

RATE = 16000


@dataclass(frozen=True)
class Episode:
    path: Path
    intro: tuple[float, float] | None
    credits: tuple[float, float] | None
    duration_s: float


def _tones(
    rng: np.random.Generator, seconds: float, *, step_s: float, voices: int
) -> NDArray[np.float64]:
    """A sequence of chords (`voices` random notes each), one every `step_s` seconds."""
    out = np.zeros(round(seconds * RATE))
    step = round(step_s * RATE)
    fade = np.minimum(1.0, np.minimum(np.arange(step), np.arange(step)[::-1]) / (0.02 * RATE))
    t = np.arange(step) / RATE
    for at in range(0, out.size, step):
        notes = 110.0 * 2 ** (rng.integers(0, 48, voices) / 12)
        chord = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in notes)
        piece = chord * fade / voices
        out[at : at + step] = piece[: out.size - at]
    return out


def _noise(rng: np.random.Generator, seconds: float) -> NDArray[np.float64]:
    """Noise whose loudness wanders, like a room or a crowd."""
    n = round(seconds * RATE)
    envelope = np.interp(
        np.arange(n),
        np.linspace(0, n, max(2, int(seconds * 3))),
        rng.uniform(0.2, 1, max(2, int(seconds * 3))),
    )
    return rng.standard_normal(n) * envelope


def body(seed: int, seconds: float) -> NDArray[np.float64]:
    """An episode's own sound: short random tones over wandering noise."""
    rng = np.random.default_rng(seed)
    step = float(rng.uniform(0.3, 0.8))
    return 0.25 * _tones(rng, seconds, step_s=step, voices=2) + 0.08 * _noise(rng, seconds)


def theme(seed: int, seconds: float) -> NDArray[np.float64]:
    """A piece every episode shares: chords over a fixed noise."""
    rng = np.random.default_rng(seed)
    return 0.3 * _tones(rng, seconds, step_s=1.5, voices=3) + 0.05 * _noise(rng, seconds)


def write_wav(path: Path, samples: NDArray[np.float64]) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32000).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return path


def make_season(
    folder: Path,
    *,
    offsets: Sequence[float | None] = (0.0, 20.0, 42.0),
    durations: Sequence[float] = (75.0, 80.0, 90.0),
    intro_s: float = 15.0,
    credits_s: float = 0.0,
    seed: int = 7,
    aac: bool = True,
) -> list[Episode]:
    """One file per episode (AAC in .m4a, or WAV), the intro at `offsets` (None: no intro),
    `credits_s` of shared credits music closing each episode (0: none)."""
    folder.mkdir(parents=True, exist_ok=True)
    intro = theme(seed, intro_s)
    credits = theme(seed + 1, credits_s) if credits_s else np.zeros(0)
    episodes = []
    for n, (offset, duration) in enumerate(zip(offsets, durations, strict=True)):
        audio = body(seed * 100 + n, duration)
        placed = None
        if offset is not None:
            at = round(offset * RATE)
            audio[at : at + intro.size] = intro
            placed = (offset, offset + intro_s)
        closing = None
        if credits.size:
            audio[-credits.size :] = credits
            closing = (duration - credits_s, duration)
        wav = write_wav(folder / f"episode-{n + 1}.wav", audio)
        path = wav
        if aac:
            path = folder / f"episode-{n + 1}.m4a"
            args = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(wav)]
            subprocess.run([*args, "-c:a", "aac", "-b:a", "96k", str(path)], check=True)
            wav.unlink()
        episodes.append(Episode(path, placed, closing, duration))
    return episodes
