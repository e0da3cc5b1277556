"""What audio languages and subtitle tracks cost the encoder, each against the video-only
ladder (one audio stream muxed into every rendition) packaged from the same picture in the same
run, rounds alternated so a busy machine weighs on both alike:
1. wall time of the whole package (encode, VMAF, packaging) with three audio languages, and
   with two subtitle tracks, as a ratio to the video-only ladder's;
2. bytes stored for the package, the same ratios;
3. subtitle checking: cues read, checked and cut into segments per second, on an SRT file of a
   feature's length. Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from cinemesh.benchsuite.rows import row
from cinemesh.platform.media_store import FileMediaStore
from cinemesh.services.encoder.public import (
    EncodeOptions,
    MediaFolders,
    QualityOptions,
    SubtitleSource,
    build_package,
    ffmpeg_exe,
    parse_subtitles,
    probe,
    segment_webvtt,
)

LANGUAGES = ("eng", "fre", "spa")


def make_source(folder: Path, *, name: str, audio: int, size: str, seconds: float) -> Path:
    """A test picture with `audio` sine tones, each stream tagged with a language."""
    out = folder / f"{name}.mp4"
    args = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi"]
    args += ["-i", f"testsrc2=size={size}:rate=25:duration={seconds}"]
    for i in range(audio):
        args += ["-f", "lavfi", "-i", f"sine=frequency={330 + 110 * i}:duration={seconds}"]
    args += ["-map", "0:v"] + [a for i in range(audio) for a in ("-map", f"{i + 1}:a")]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    for i in range(audio):
        args += [f"-metadata:s:a:{i}", f"language={LANGUAGES[i]}"]
    subprocess.run([*args, str(out)], check=True)
    return out


def srt(cues: int) -> bytes:
    """`cues` two-second cues, one every three seconds."""
    lines = []
    for n in range(cues):
        start = n * 3
        lines += [str(n + 1), f"{_stamp(start)},000 --> {_stamp(start + 2)},000", f"Line {n}", ""]
    return "\n".join(lines).encode()


def _stamp(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def package(
    source: Path, root: Path, tag: str, *, preset: str, subtitles: list[SubtitleSource]
) -> tuple[float, int]:
    """Wall seconds for the whole package, and the bytes it stores."""
    folders = MediaFolders(root / f"media-{tag}")
    folders.prepare()

    async def report(_state: str, _percent: float) -> None:
        return None

    started = time.perf_counter()
    asyncio.run(
        build_package(
            job_id=tag,
            asset_id=tag,
            source_path=source,
            source=probe(source),
            folders=folders,
            store=FileMediaStore(folders.root),
            encode=EncodeOptions(preset=preset),
            quality=QualityOptions(subsample=10),
            report=report,
            subtitles=subtitles,
        )
    )
    elapsed = time.perf_counter() - started
    stored = sum(p.stat().st_size for p in (folders.root / "assets").rglob("*") if p.is_file())
    shutil.rmtree(folders.root)
    return elapsed, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    args = parser.parse_args()
    if args.tiny:
        size, seconds, rounds, preset, cues = "320x180", 2, 1, "ultrafast", 200
    elif args.quick:
        size, seconds, rounds, preset, cues = "640x360", 8, 2, "veryfast", 2000
    else:
        size, seconds, rounds, preset, cues = "1280x720", 20, 3, "veryfast", 2000
    track = parse_subtitles(srt(max(1, int(seconds / 3)))).to_webvtt()
    tracks = [
        SubtitleSource("en", "captions", "English (CC)", track),
        SubtitleSource("fr", "subtitles", "Français", track),
    ]
    times: dict[str, list[float]] = {"video-only": [], "3 audio": [], "2 subtitles": []}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="cinemesh-tracks-bench-") as tmp:
        root = Path(tmp)
        one = make_source(root, name="one", audio=1, size=size, seconds=seconds)
        three = make_source(root, name="three", audio=3, size=size, seconds=seconds)
        runs = [("video-only", one, []), ("3 audio", three, []), ("2 subtitles", one, tracks)]
        for r in range(rounds):
            for kind, source, subs in runs:
                wall, stored = package(source, root, f"{kind[0]}{r}", preset=preset, subtitles=subs)
                times[kind].append(wall)
                sizes[kind] = stored
    medians = {kind: statistics.median(walls) for kind, walls in times.items()}

    data = srt(cues)
    started = time.perf_counter()
    parsed = parse_subtitles(data)
    segment_webvtt(parsed.cues, segment_s=4, duration_s=cues * 3.0)
    check_s = time.perf_counter() - started

    baseline = "video-only ladder, one audio stream"
    summary: list[dict[str, Any]] = []
    for kind in ("3 audio", "2 subtitles"):
        summary.append(
            row(
                f"package wall time with {kind} ({size}, {seconds}s)",
                round(medians[kind], 3),
                baseline=baseline,
                baseline_value=round(medians["video-only"], 3),
                better="lower",
            )
        )
        summary.append(
            row(
                f"bytes stored with {kind}",
                sizes[kind],
                baseline=baseline,
                baseline_value=sizes["video-only"],
                better="lower",
            )
        )
    summary.append(
        row(
            f"subtitle cues checked and segmented per second ({cues} cues)",
            round(cues / check_s),
            baseline="none (absolute)",
        )
    )
    body = {
        "benchmark": "tracks",
        "note": "wall times on a shared machine: only the ratios to the same run's baseline mean much",
        "summary": summary,
        "rounds": rounds,
        "wall_s": times,
        "bytes": sizes,
    }
    print(json.dumps(body, indent=2))


if __name__ == "__main__":
    main()
