"""Per-title encoding: each rendition's VMAF against the source (scaled back to the source's
size, ffmpeg's libvmaf), and the ladder decision that drops rungs adding no visible quality.

The rule: walk the rungs from the lowest up; keep the lowest; keep a higher rung only when its
VMAF beats the last kept rung by at least `min_gain` points (default 2: about a third of a
just-noticeable difference, so what is dropped costs bits a viewer would not see)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cinemesh.services.encoder.ffmpeg import Progress, run_ffmpeg
from cinemesh.services.encoder.probe import SourceInfo


@dataclass(frozen=True)
class Measured:
    name: str
    height: int
    vmaf: float


@dataclass(frozen=True)
class Decision:
    name: str
    vmaf: float
    kept: bool
    gain: float | None  # over the last kept rung below; None for the lowest
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vmaf": self.vmaf,
            "kept": self.kept,
            "gain": self.gain,
            "reason": self.reason,
        }


def vmaf_args(
    *, source_path: Path, source: SourceInfo, playlists: list[Path], subsample: int, threads: int
) -> list[str]:
    """One ffmpeg run decoding the source once and every rendition, one libvmaf each."""
    count = len(playlists)
    ref = count  # the source is the last input
    graph = [
        f"[{ref}:v:0]setpts=PTS-STARTPTS,format=yuv420p,split={count}"
        + "".join(f"[r{i}]" for i in range(count))
    ]
    for i in range(count):
        graph.append(
            f"[{i}:v:0]scale={source.width}:{source.height}:flags=bicubic,"
            f"setpts=PTS-STARTPTS,format=yuv420p[d{i}]"
        )
        graph.append(
            f"[d{i}][r{i}]libvmaf=n_subsample={subsample}:n_threads={max(1, threads)}"
            f":log_fmt=json:log_path=vmaf_{i}.json[q{i}]"
        )
    args = ["-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats", "-progress", "pipe:1"]
    for playlist in playlists:
        args += ["-i", str(playlist)]
    args += ["-i", str(source_path), "-filter_complex", ";".join(graph)]
    for i in range(count):
        args += ["-map", f"[q{i}]"]
    return [*args, "-f", "null", "-"]


async def measure_vmaf(
    *,
    source_path: Path,
    source: SourceInfo,
    playlists: list[Path],
    work_dir: Path,
    subsample: int,
    threads: int = 0,
    on_progress: Progress | None = None,
) -> list[float]:
    """The pooled mean VMAF of each rendition playlist, in order."""
    await run_ffmpeg(
        vmaf_args(
            source_path=source_path,
            source=source,
            playlists=playlists,
            subsample=subsample,
            threads=threads or 2,
        ),
        cwd=work_dir,
        duration_s=source.duration_s,
        fps=source.fps,
        on_progress=on_progress,
    )
    scores = []
    for i in range(len(playlists)):
        report = orjson.loads((work_dir / f"vmaf_{i}.json").read_bytes())
        scores.append(round(float(report["pooled_metrics"]["vmaf"]["mean"]), 2))
    return scores


def decide_ladder(measured: list[Measured], *, min_gain: float) -> list[Decision]:
    """Keep the lowest rung, then each rung that adds at least `min_gain` VMAF points."""
    decisions: list[Decision] = []
    last_kept: Measured | None = None
    for rung in sorted(measured, key=lambda m: m.height):
        if last_kept is None:
            decisions.append(Decision(rung.name, rung.vmaf, True, None, "lowest rung"))
            last_kept = rung
            continue
        gain = round(rung.vmaf - last_kept.vmaf, 2)
        if gain >= min_gain:
            decisions.append(
                Decision(rung.name, rung.vmaf, True, gain, f"+{gain} over {last_kept.name}")
            )
            last_kept = rung
        else:
            decisions.append(
                Decision(
                    rung.name,
                    rung.vmaf,
                    False,
                    gain,
                    f"only {gain:+} over {last_kept.name} (< {min_gain})",
                )
            )
    return decisions
