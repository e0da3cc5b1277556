"""Finding a season's intro and credits from the audio alone: the stretch of sound that
repeats in every episode of the season (no external service, no model).

1. Each episode's audio is decoded to mono 8 kHz PCM by the shipped ffmpeg.
2. A fingerprint per 0.05 s frame (a 0.256 s Hann window): the energy of 33 log-spaced bands
   between 300 and 3000 Hz, and 32 bits per frame, each the sign of how the difference between
   two neighbouring bands changed since the previous frame (the Haitsma-Kalker scheme). The bits
   survive lossy coding and a changed loudness; silent frames are marked and never match.
3. Each episode is aligned with the first one: offsets voted for by frames whose 32 bits are
   equal in both, each candidate offset then checked frame by frame (bit error rate smoothed
   over 1 s below 0.35), keeping runs of at least `min_s` seconds (gaps of up to 4 s at the
   same offset bridged: a sound effect or a line spoken over the theme).
4. The runs are intersected across episodes in the first episode's time; what is left, in
   every episode, is a shared stretch. Credits are the shared stretch that ends last, near the
   end of every episode; the intro is the longest of the others.

Everything here is deterministic and pure (numpy and one ffmpeg child per file)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from cinemesh.services.encoder.ffmpeg import ffmpeg_exe

RATE = 8000
HOP = 400  # 0.05 s
WINDOW = 2048  # 0.256 s
BANDS = 33  # 32 bits per frame
LOW_HZ, HIGH_HZ = 300.0, 3000.0
CHUNK = 4096  # frames per FFT batch, so an hour stays a few tens of MB
SMOOTH_S = 1.0
MAX_BER = 0.35
MERGE_GAP_S = 4.0  # a sound effect or a line over the theme does not split it
CANDIDATES = 12  # offsets checked per pair of episodes
PHASES = 4  # the reference's frames cut at quarter hops
CREDITS_FROM_END = 0.15  # credits end within the last 15 % of every episode

Fingerprint = NDArray[np.uint32]
Run = TypeVar("Run", tuple[int, int, int], tuple[float, float, float])


@dataclass(frozen=True)
class Range:
    """A stretch of an episode, in seconds from its start."""

    start_s: float
    end_s: float

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class EpisodeMarkers:
    intro: Range | None
    credits: Range | None


@dataclass(frozen=True)
class Audio:
    """A fingerprint: 32 bits per frame, which frames carry sound, and the time of frame 0's
    hop (a fraction of a hop when the frames were cut from a shifted start)."""

    bits: Fingerprint
    loud: NDArray[np.bool_]
    start_s: float = 0.0


@dataclass(frozen=True)
class EpisodeAudio:
    """An episode's fingerprints: one per phase (frames cut `HOP / len(phases)` apart), so that
    two episodes whose shared stretch is not a whole number of hops apart still line up."""

    phases: tuple[Audio, ...]
    duration_s: float


class IntroError(Exception):
    """A file's audio could not be decoded."""


def decode(path: Path, *, rate: int = RATE) -> NDArray[np.float32]:
    """The first audio stream of `path`, mono at `rate` Hz, as floats in [-1, 1]."""
    args = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0"]
    args += ["-vn", "-sn", "-dn", "-ac", "1", "-ar", str(rate), "-f", "s16le", "pipe:1"]
    done = subprocess.run(args, capture_output=True, check=False)
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip()[-400:]
        raise IntroError(f"cannot decode the audio of {path.name}: {said}")
    pcm = np.frombuffer(done.stdout, dtype="<i2")
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32)


def _band_matrix(rate: int) -> NDArray[np.float32]:
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / rate)
    edges = np.geomspace(LOW_HZ, HIGH_HZ, BANDS + 1)
    bands = np.zeros((freqs.size, BANDS), dtype=np.float32)
    for b in range(BANDS):
        bands[(freqs >= edges[b]) & (freqs < edges[b + 1]), b] = 1.0
    return bands


def fingerprint(samples: NDArray[np.float32], *, shift: int = 0) -> Audio:
    """The fingerprint of mono samples at `RATE` Hz, frames cut from sample `shift` on."""
    rate = RATE
    start_s = shift / rate
    samples = samples[shift:]
    frames = 0 if samples.size < WINDOW else 1 + (samples.size - WINDOW) // HOP
    if frames < 2:
        return Audio(np.zeros(0, np.uint32), np.zeros(0, np.bool_), start_s)
    window = np.hanning(WINDOW).astype(np.float32)
    bands = _band_matrix(rate)
    view = np.lib.stride_tricks.sliding_window_view(samples, WINDOW)[::HOP][:frames]
    energy = np.empty((frames, BANDS), dtype=np.float32)
    for at in range(0, frames, CHUNK):
        spectrum = np.fft.rfft(view[at : at + CHUNK] * window, axis=1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        energy[at : at + CHUNK] = power @ bands
    total = energy.sum(axis=1)
    # silence (and near-silence, relative to the episode) carries no identity
    loud = total > max(1e-6, 1e-4 * float(np.median(total)))
    slope = energy[:, :-1] - energy[:, 1:]
    bits = (slope[1:] - slope[:-1]) > 0  # frame t against frame t-1
    weights = (np.uint64(1) << np.arange(BANDS - 1, dtype=np.uint64)).astype(np.uint64)
    packed = (bits.astype(np.uint64) * weights).sum(axis=1).astype(np.uint32)
    packed = np.concatenate([np.zeros(1, np.uint32), packed])
    loud = loud & np.concatenate([[False], loud[:-1]])
    return Audio(packed, loud, start_s)


def listen(samples: NDArray[np.float32], *, phases: int = 1) -> EpisodeAudio:
    """An episode's fingerprints at `phases` phases (1 is enough for all but the reference)."""
    prints = tuple(fingerprint(samples, shift=p * HOP // phases) for p in range(phases))
    return EpisodeAudio(prints, samples.size / RATE)


def listen_file(path: Path, *, phases: int = 1) -> EpisodeAudio:
    return listen(decode(path), phases=phases)


def _candidate_offsets(a: Audio, b: Audio) -> list[int]:
    """Offsets d (frame i of `a` against frame i + d of `b`) most voted for by frames whose
    bits are equal, a vote counting for its neighbours too (a hop's misalignment)."""
    ia = np.flatnonzero(a.loud)
    ib = np.flatnonzero(b.loud)
    if ia.size == 0 or ib.size == 0:
        return []
    va, vb = a.bits[ia], b.bits[ib]
    order = np.argsort(vb, kind="stable")
    vb_sorted, ib_sorted = vb[order], ib[order]
    left = np.searchsorted(vb_sorted, va, side="left")
    right = np.searchsorted(vb_sorted, va, side="right")
    counts = right - left
    # values that repeat a lot in `b` (tones, steady noise) are not evidence of an offset
    keep = (counts > 0) & (counts <= 4)
    if not keep.any():
        return []
    frames_a = np.repeat(ia[keep], counts[keep])
    starts = np.repeat(left[keep], counts[keep])
    within = np.arange(frames_a.size) - np.repeat(
        np.cumsum(counts[keep]) - counts[keep], counts[keep]
    )
    frames_b = ib_sorted[starts + within]
    offsets = frames_b - frames_a
    low = -a.bits.size
    votes = np.bincount(offsets - low, minlength=a.bits.size + b.bits.size + 1).astype(np.int64)
    spread = votes.copy()
    spread[1:] += votes[:-1]
    spread[:-1] += votes[1:]
    chosen: list[int] = []
    for index in np.lexsort((-votes, -spread)):  # the most votes around, then in itself
        if spread[index] < 3 or len(chosen) >= CANDIDATES:
            break
        d = int(index) + low
        if all(abs(d - c) > 2 for c in chosen):
            chosen.append(d)
    return chosen


def _runs(mask: NDArray[np.bool_], *, merge_gap: int, min_len: int) -> list[tuple[int, int]]:
    """Runs [start, end) of True, gaps of up to `merge_gap` frames bridged."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    runs: list[list[int]] = []
    for start, end in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if runs and start - runs[-1][1] <= merge_gap:
            runs[-1][1] = end
        else:
            runs.append([start, end])
    return [(s, e) for s, e in runs if e - s >= min_len]


def matching_runs(a: Audio, b: Audio, *, min_s: float = 8.0) -> list[tuple[float, float, float]]:
    """Stretches of `a` heard again in `b`: their start and end in `a` (seconds) and the offset
    to add to reach `b`'s time."""
    hop_s = HOP / RATE
    smooth = max(1, round(SMOOTH_S / hop_s))
    kernel = np.ones(smooth, dtype=np.float32) / smooth
    merge_gap, min_len = round(MERGE_GAP_S / hop_s), round(min_s / hop_s)
    found: list[tuple[int, int, int]] = []
    for d in _candidate_offsets(a, b):
        first, last = max(0, -d), min(a.bits.size, b.bits.size - d)
        if last - first < max(smooth, min_len):
            continue
        xa, xb = a.bits[first:last], b.bits[first + d : last + d]
        ber = np.bitwise_count(xa ^ xb).astype(np.float32) / (BANDS - 1)
        ber[~(a.loud[first:last] & b.loud[first + d : last + d])] = 0.5
        # beyond either end counts as no match (0.5), not as a perfect one
        smoothed = np.convolve(ber - 0.5, kernel, mode="same") + 0.5
        for s, e in _runs(smoothed < MAX_BER, merge_gap=merge_gap, min_len=min_len):
            found.append((s + first, e + first, d))
    # a frame's bits come from its window and the previous frame's
    return [
        (
            a.start_s + (s - 1) * hop_s,
            a.start_s + (e - 1) * hop_s + WINDOW / RATE,
            b.start_s - a.start_s + d * hop_s,
        )
        for s, e, d in _best_per_stretch(found)
    ]


def _best_per_stretch(runs: list[Run]) -> list[Run]:
    """Of runs (start, end, offset) that overlap in the first file (neighbouring offsets, or
    phases, finding the same stretch), the longest."""
    kept: list[Run] = []
    for run in sorted(runs, key=lambda r: (-(r[1] - r[0]), r[0], r[2])):
        if all(run[1] <= k[0] or run[0] >= k[1] for k in kept):
            kept.append(run)
    return sorted(kept)


def _pair_runs(
    ref: EpisodeAudio, other: EpisodeAudio, min_s: float
) -> list[tuple[float, float, float]]:
    """`matching_runs` of every phase of the reference against the other episode, the best
    phase for each stretch (the one that finds it longest)."""
    runs = [r for phase in ref.phases for r in matching_runs(phase, other.phases[0], min_s=min_s)]
    return _best_per_stretch(runs)


def shared_stretches(episodes: Sequence[EpisodeAudio], *, min_s: float = 8.0) -> list[list[Range]]:
    """Stretches heard in every episode: one list per stretch, a `Range` per episode, in the
    order of the first episode's time (the reference, whose phases are all tried). Fewer than
    two episodes share nothing."""
    if len(episodes) < 2:
        return []
    ref = episodes[0]
    # candidates: start and end in the reference, and the offset to each other episode
    found: list[tuple[float, float, tuple[float, ...]]] = [(0.0, ref.duration_s, ())]
    for other in episodes[1:]:
        runs = _pair_runs(ref, other, min_s)
        found = [
            (max(start, s), min(end, e), (*offsets, d))
            for start, end, offsets in found
            for s, e, d in runs
            if min(end, e) - max(start, s) >= min_s
        ]
        if not found:
            return []
    stretches = []
    for start, end, offsets in sorted(found):
        ranges = [
            Range(round(max(0.0, start + d), 2), round(min(episode.duration_s, end + d), 2))
            for d, episode in zip((0.0, *offsets), episodes, strict=True)
        ]
        stretches.append(ranges)
    return stretches


def season_markers(episodes: Sequence[EpisodeAudio], *, min_s: float = 8.0) -> list[EpisodeMarkers]:
    """The intro and credits of each episode; None where the season shares no such stretch."""
    stretches = shared_stretches(episodes, min_s=min_s)
    credits: list[Range] | None = None
    if stretches:
        last = max(stretches, key=lambda ranges: ranges[0].end_s)
        if all(
            r.end_s >= e.duration_s * (1 - CREDITS_FROM_END)
            for r, e in zip(last, episodes, strict=True)
        ):
            credits = last
    others = [s for s in stretches if s is not credits]
    intro = max(others, key=lambda ranges: (ranges[0].length_s, -ranges[0].start_s), default=None)
    return [
        EpisodeMarkers(intro[i] if intro else None, credits[i] if credits else None)
        for i in range(len(episodes))
    ]


def detect_markers(paths: Sequence[Path], *, min_s: float = 8.0) -> list[EpisodeMarkers]:
    """Intro and credits of each of a season's episode files (in any container ffmpeg reads),
    in the order given; the first is the reference the others are aligned with. A first
    episode without the intro the others share (a pilot that opens cold, or has none yet) gets
    no intro, and the rest theirs, aligned with the second."""
    episodes = [listen_file(Path(p), phases=PHASES if i == 0 else 1) for i, p in enumerate(paths)]
    found = season_markers(episodes, min_s=min_s)
    if len(paths) < 3 or any(m.intro for m in found):
        return found
    rest = [listen_file(Path(paths[1]), phases=PHASES), *episodes[2:]]
    others = season_markers(rest, min_s=min_s)
    if not any(m.intro for m in others):
        return found
    return [EpisodeMarkers(None, found[0].credits), *others]


def detect_intros(paths: Sequence[Path], *, min_s: float = 8.0) -> list[Range | None]:
    """The intro of each of a season's episode files, or None where none repeats in all."""
    return [m.intro for m in detect_markers(paths, min_s=min_s)]
