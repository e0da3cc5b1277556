"""Encoder benchmarks, each beside its baseline in the same run:
1. encode speed: the encoder's ladder pass (progress parsing, process handling) as a ratio to
   the bare ffmpeg command with the same ladder on the same source (goal >= 0.95);
2. throughput: seconds of video packaged (encode, VMAF, packaging) per wall-clock second;
3. per-title vs fixed ladder: VMAF and bitrate of every rung on static and high-motion
   content, what the per-title rule keeps, and the bits it saves. Prints JSON."""

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

from cinemesh.platform.media_store import FileMediaStore
from cinemesh.services.encoder.public import (
    THUMBS_DIR,
    EncodeOptions,
    MediaFolders,
    QualityOptions,
    build_package,
    ffmpeg_exe,
    ladder_args,
    plan_ladder,
    plan_sprite,
    probe,
    run_ffmpeg,
)

CONTENT = {
    # smooth, slowly moving gradients: lower rungs upscale almost losslessly
    "static": "gradients=size={w}x{h}:rate=25:speed=0.004:n=3,gblur=sigma=6",
    # a busy pattern under moving grain and hue: detail everywhere, changing every frame
    "high-motion": "testsrc2=size={w}x{h}:rate=25,noise=alls=24:allf=t+u,hue=h=t*90",
}


def make_source(folder: Path, kind: str, *, width: int, height: int, seconds: float) -> Path:
    out = folder / f"{kind}.mp4"
    pattern = CONTENT[kind].format(w=width, h=height)
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-t", str(seconds), "-i", pattern,
         "-f", "lavfi", "-t", str(seconds), "-i", "sine=frequency=330",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p",
         "-c:a", "aac", str(out)],
        check=True,
    )  # fmt: skip
    return out


def encode_speed(source: Path, work: Path, *, preset: str, rounds: int) -> dict[str, Any]:
    """Alternate ours and the bare command; compare the median wall times."""
    info = probe(source)
    options = EncodeOptions(preset=preset)
    ours: list[float] = []
    bare: list[float] = []

    def prepared() -> tuple[Path, list[str]]:
        shutil.rmtree(work, ignore_errors=True)
        (work / THUMBS_DIR).mkdir(parents=True)
        args = ladder_args(
            source_path=source,
            source=info,
            rungs=plan_ladder(info),
            sprite=plan_sprite(info),
            out_dir=work / "package",
            options=options,
        )
        return work, args

    async def progress(_fraction: float) -> None:
        return None

    for _ in range(rounds):
        cwd, args = prepared()
        started = time.perf_counter()
        asyncio.run(
            run_ffmpeg(
                args, cwd=cwd, duration_s=info.duration_s, fps=info.fps, on_progress=progress
            )
        )
        ours.append(time.perf_counter() - started)
        cwd, args = prepared()
        plain = [a for a in args if a not in ("-progress", "pipe:1", "-nostats")]
        started = time.perf_counter()
        subprocess.run([ffmpeg_exe(), *plain], cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        bare.append(time.perf_counter() - started)
    ours_s, bare_s = statistics.median(ours), statistics.median(bare)
    return {
        "source": f"{info.width}x{info.height} {info.duration_s}s",
        "rungs": [r.name for r in plan_ladder(info)],
        "ours_s": round(ours_s, 3),
        "bare_ffmpeg_s": round(bare_s, 3),
        "speed_ratio": round(bare_s / ours_s, 3),
        "rounds": rounds,
    }


def package_content(
    source: Path, folders: MediaFolders, *, preset: str, tag: str
) -> dict[str, Any]:
    info = probe(source)

    async def report(_state: str, _percent: float) -> None:
        return None

    started = time.perf_counter()
    manifest = asyncio.run(
        build_package(
            job_id=f"bench-{tag}",
            asset_id=f"bench-{tag}",
            source_path=source,
            source=info,
            folders=folders,
            store=FileMediaStore(folders.root),
            encode=EncodeOptions(preset=preset),
            quality=QualityOptions(min_gain=2.0, subsample=5),
            report=report,
        )
    )
    elapsed = time.perf_counter() - started
    decisions = manifest["ladder"]["decisions"]
    fixed_kbps = sum(d["average_bandwidth"] for d in decisions) / 1000
    kept_kbps = sum(d["average_bandwidth"] for d in decisions if d["kept"]) / 1000
    return {
        "wall_s": round(elapsed, 2),
        "video_s": info.duration_s,
        "rungs": [
            {
                "rung": d["name"],
                "vmaf": d["vmaf"],
                "kbps": round(d["average_bandwidth"] / 1000),
                "per_title": "kept" if d["kept"] else "dropped",
                "why": d["reason"],
            }
            for d in decisions
        ],
        "fixed_ladder_total_kbps": round(fixed_kbps),
        "per_title_total_kbps": round(kept_kbps),
        "storage_saved": round(1 - kept_kbps / fixed_kbps, 3),
        "best_vmaf_fixed": max(d["vmaf"] for d in decisions),
        "best_vmaf_per_title": max(d["vmaf"] for d in decisions if d["kept"]),
    }


def vmaf_per_kbps(best_vmaf: float, total_kbps: float) -> float:
    """The quality a viewer gets at best, per kbit/s the ladder costs to store and serve."""
    return round(best_vmaf / max(total_kbps, 1), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    args = parser.parse_args()
    if args.tiny:
        width, height, seconds, rounds, preset = 640, 360, 3, 1, "ultrafast"
    elif args.quick:
        width, height, seconds, rounds, preset = 1280, 720, 8, 3, "veryfast"
    else:
        width, height, seconds, rounds, preset = 1920, 1080, 20, 5, "veryfast"
    with tempfile.TemporaryDirectory(prefix="cinemesh-encoder-bench-") as tmp:
        root = Path(tmp)
        folders = MediaFolders(root / "media")
        folders.prepare()
        sources = {
            kind: make_source(root, kind, width=width, height=height, seconds=seconds)
            for kind in CONTENT
        }
        speed = encode_speed(sources["high-motion"], root / "speed", preset=preset, rounds=rounds)
        ladders = {
            kind: package_content(path, folders, preset=preset, tag=kind)
            for kind, path in sources.items()
        }
    video_s = sum(r["video_s"] for r in ladders.values())
    wall_s = sum(r["wall_s"] for r in ladders.values())
    summary = [
        {
            "measurement": f"ladder encode, {speed['source']} -> {', '.join(speed['rungs'])}",
            "baseline": "bare ffmpeg, same command",
            "value": speed["ours_s"],
            "baseline_value": speed["bare_ffmpeg_s"],
            "ratio": speed["speed_ratio"],
            "better": "lower",
            "goal": "speed ratio >= 0.95",
        },
        {
            "measurement": "seconds of video packaged per wall second (encode + VMAF + package)",
            "baseline": "real time",
            "value": round(video_s / wall_s, 3),
            "baseline_value": 1.0,
            "ratio": round(video_s / wall_s, 3),
            "better": "higher",
        },
    ]
    for kind, result in ladders.items():
        summary.append(
            {
                "measurement": f"per-title ladder total kbit/s, {kind} content",
                "baseline": "fixed ladder (every rung)",
                "value": result["per_title_total_kbps"],
                "baseline_value": result["fixed_ladder_total_kbps"],
                "ratio": round(
                    result["per_title_total_kbps"] / result["fixed_ladder_total_kbps"], 3
                ),
                "better": "lower",
            }
        )
        per_title = vmaf_per_kbps(result["best_vmaf_per_title"], result["per_title_total_kbps"])
        fixed = vmaf_per_kbps(result["best_vmaf_fixed"], result["fixed_ladder_total_kbps"])
        summary.append(
            {
                "measurement": f"best VMAF per ladder kbit/s stored, {kind} content (per-title)",
                "baseline": "fixed ladder (every rung)",
                "value": per_title,
                "baseline_value": fixed,
                "ratio": round(per_title / fixed, 3),
                "better": "higher",
            }
        )
    plots = [
        {
            "title": f"VMAF against bitrate per rung ({kind})",
            "x_label": "kbit/s",
            "y_label": "VMAF",
            "series": [
                {
                    "name": "fixed ladder",
                    "x": [r["kbps"] for r in result["rungs"]],
                    "y": [r["vmaf"] for r in result["rungs"]],
                },
                {
                    "name": "per-title (kept)",
                    "x": [r["kbps"] for r in result["rungs"] if r["per_title"] == "kept"],
                    "y": [r["vmaf"] for r in result["rungs"] if r["per_title"] == "kept"],
                },
            ],
        }
        for kind, result in ladders.items()
    ]
    body = {
        "benchmark": "encoder",
        "summary": summary,
        "encode_speed": speed,
        "ladders": ladders,
        "plots": plots,
    }
    print(json.dumps(body, indent=2))


if __name__ == "__main__":
    main()
