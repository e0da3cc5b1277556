"""Intro and credits detection (issue 24 item 4) on a generated season: three AAC episodes
with bodies of their own, the same 15 s intro at offsets that are not whole hops apart, and the
same 10 s of credits music closing each one.
1. seconds of work per episode hour for the whole detection (decoding included), against
   ffmpeg decoding the same files to the same PCM alone (what any detection has to pay);
2. accuracy: the largest error, in seconds, of the detected intro and credits bounds against
   the truth (the issue's tolerance is 1 s). Prints JSON."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from cinemesh.benchsuite.rows import row
from cinemesh.demo.season import Episode, make_season
from cinemesh.services.encoder.public import EpisodeMarkers, detect_markers, ffmpeg_exe


def decode_only(paths: list[Path]) -> None:
    """What detection decodes, and nothing more: mono 8 kHz s16le to a pipe, thrown away."""
    for path in paths:
        args = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0"]
        args += ["-vn", "-ac", "1", "-ar", "8000", "-f", "s16le", "pipe:1"]
        subprocess.run(args, capture_output=True, check=True)


def max_error(season: list[Episode], found: list[EpisodeMarkers]) -> float:
    """The largest error of any bound; a stretch not found counts as its whole length."""
    worst = 0.0
    for episode, marks in zip(season, found, strict=True):
        for truth, got in ((episode.intro, marks.intro), (episode.credits, marks.credits)):
            if truth is None:
                continue
            if got is None:
                worst = max(worst, truth[1] - truth[0])
                continue
            worst = max(worst, abs(got.start_s - truth[0]), abs(got.end_s - truth[1]))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    args = parser.parse_args()
    if args.tiny:
        minutes, rounds = 1.0, 1
    elif args.quick:
        minutes, rounds = 5.0, 2
    else:
        minutes, rounds = 22.0, 3
    length = minutes * 60
    offsets = (0.0, min(20.03, length / 4), min(42.07, length / 2))
    durations = (length, length + 5.0, length + 11.0)
    detect_s: list[float] = []
    decode_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cinemesh-intro-bench-") as tmp:
        season = make_season(Path(tmp), offsets=offsets, durations=durations, credits_s=10.0)
        paths = [e.path for e in season]
        hours = sum(durations) / 3600
        found: list[EpisodeMarkers] = []
        for _ in range(rounds):  # alternated, so a busy machine weighs on both alike
            started = time.perf_counter()
            decode_only(paths)
            decode_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            found = detect_markers(paths)
            detect_s.append(time.perf_counter() - started)
    per_hour = statistics.median(detect_s) / hours
    decode_per_hour = statistics.median(decode_s) / hours
    error = max_error(season, found)
    summary: list[dict[str, Any]] = [
        row(
            f"intro and credits detection, seconds of work per episode hour "
            f"(3 episodes of ~{minutes:g} min, AAC)",
            round(per_hour, 3),
            baseline="ffmpeg decoding the same audio to 8 kHz mono PCM alone",
            baseline_value=round(decode_per_hour, 3),
            better="lower",
        ),
        row(
            "largest error of a detected intro or credits bound, seconds",
            round(error, 3),
            baseline="the issue's tolerance (1 s)",
            baseline_value=1.0,
            better="lower",
        ),
    ]
    body = {
        "benchmark": "intro",
        "note": "wall times on a shared machine; the accuracy does not depend on the load",
        "summary": summary,
        "rounds": rounds,
        "detect_s": detect_s,
        "decode_s": decode_s,
        "episodes": [
            {
                "truth": {"intro": e.intro, "credits": e.credits},
                "found": {
                    "intro": [m.intro.start_s, m.intro.end_s] if m.intro else None,
                    "credits": [m.credits.start_s, m.credits.end_s] if m.credits else None,
                },
            }
            for e, m in zip(season, found, strict=True)
        ],
    }
    print(json.dumps(body, indent=2))


if __name__ == "__main__":
    main()
