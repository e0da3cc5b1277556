"""The bitrate ladder: which renditions a source gets (never upscaled) and the one ffmpeg pass
that decodes the source once and writes every rendition as CMAF HLS plus the thumbnails."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from cinemesh.services.encoder.probe import SourceInfo

# height, video bitrate cap (bit/s), audio bitrate (bit/s)
STANDARD_RUNGS = (
    (240, 400_000, 64_000),
    (360, 800_000, 96_000),
    (480, 1_400_000, 128_000),
    (720, 2_800_000, 128_000),
    (1080, 5_000_000, 160_000),
)
MAX_FPS = 60.0
THUMB_WIDTH = 160
SPRITE_COLUMNS = 10
MAX_THUMBS = 100
THUMBS_DIR = "thumbs"


@dataclass(frozen=True)
class Rung:
    name: str
    width: int
    height: int
    max_video_bitrate: int
    audio_bitrate: int


@dataclass(frozen=True)
class Sprite:
    """Thumbnails every `interval_s` seconds tiled into one image (`thumbs.jpg`)."""

    interval_s: float
    count: int
    columns: int
    rows: int
    thumb_width: int
    thumb_height: int


@dataclass(frozen=True)
class EncodeOptions:
    preset: str = "veryfast"
    crf: int = 23
    segment_s: int = 4
    threads: int = 0
    # the first segment of every rendition lasts this long and the next ones double up to
    # segment_s (1, 1, 2, then 4 s): a play's first bytes of video are a quarter of a segment
    start_segment_s: float = 1.0


def start_keyframes_s(options: EncodeOptions) -> list[float]:
    """Where the short start segments end, before the regular grid (none when they would not
    be shorter than a segment)."""
    found: list[float] = []
    at = options.start_segment_s
    while at < options.segment_s:
        found.append(at)
        at *= 2
    return found


def keyframe_expression(options: EncodeOptions, *, short_start: bool = True) -> str:
    """ffmpeg's `-force_key_frames` value: a keyframe at 0, at the end of each start segment,
    then every segment_s (n_forced counts the keyframes forced so far)."""
    seg = options.segment_s
    starts = start_keyframes_s(options) if short_start else []
    if not starts:
        return f"expr:gte(t,n_forced*{seg})"
    m, first = len(starts), starts[0]
    start = f"if(n_forced,{first:g}*pow(2,n_forced-1),0)"
    return f"expr:gte(t,if(lte(n_forced,{m}),{start},(n_forced-{m})*{seg}))"


def segmenter_time_s(options: EncodeOptions, *, short_start: bool = True) -> float:
    """The HLS muxer's `-hls_time`: it cuts at the first keyframe past each multiple of it,
    so with the start segments' keyframes it cuts 1, 1, 2, then every segment_s."""
    starts = start_keyframes_s(options) if short_start else []
    return starts[0] if starts else float(options.segment_s)


def even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def plan_ladder(source: SourceInfo) -> list[Rung]:
    """Standard rungs up to the source's height; a source below 240p gets one rung at its size."""
    aspect = source.width / source.height
    chosen = [r for r in STANDARD_RUNGS if r[0] <= source.height]
    if not chosen:
        height = even(source.height)
        return [Rung(f"{height}p", even(height * aspect), height, 300_000, 64_000)]
    return [Rung(f"{h}p", even(h * aspect), h, vbr, abr) for h, vbr, abr in chosen]


def plan_sprite(source: SourceInfo) -> Sprite:
    interval = max(1.0, float(math.ceil(source.duration_s / MAX_THUMBS)))
    count = max(1, math.ceil(source.duration_s / interval))
    columns = min(SPRITE_COLUMNS, count)
    rows = math.ceil(count / columns)
    thumb_height = even(THUMB_WIDTH * source.height / source.width)
    return Sprite(interval, count, columns, rows, THUMB_WIDTH, thumb_height)


def separate_audio(source: SourceInfo) -> bool:
    """Several audio streams become an audio rendition group, each encoded once; a single
    one stays muxed into every video rendition, as players expect of a simple title."""
    return source.audio_streams > 1


def audio_folders(source: SourceInfo) -> list[str]:
    """The folder of each audio rendition, e.g. `audio_1_fr`."""
    return [f"audio_{j}_{language}" for j, language in enumerate(source.audio_languages)]


def gop_frames(source: SourceInfo, segment_s: int) -> int:
    return max(1, round(min(source.fps, MAX_FPS) * segment_s))


def ladder_args(
    *,
    source_path: Path,
    source: SourceInfo,
    rungs: list[Rung],
    sprite: Sprite,
    out_dir: Path,
    options: EncodeOptions,
) -> list[str]:
    """ffmpeg arguments (no shell) for the single decode pass; the input follows `-i`."""
    count = len(rungs)
    fps_filter = f"fps={MAX_FPS:g}," if source.fps > MAX_FPS else ""
    graph = [f"[0:v:0]{fps_filter}split={count + 1}" + "".join(f"[s{i}]" for i in range(count + 1))]
    for i, rung in enumerate(rungs):
        graph.append(f"[s{i}]scale={rung.width}:{rung.height}:flags=bicubic,format=yuv420p[v{i}]")
    graph.append(
        f"[s{count}]fps=1/{sprite.interval_s:g},scale={sprite.thumb_width}:{sprite.thumb_height}"
        "[thumbs]"
    )
    args = ["-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats", "-progress", "pipe:1"]
    args += ["-threads", str(options.threads), "-i", str(source_path)]
    args += ["-filter_complex", ";".join(graph)]
    separate = separate_audio(source)
    for i in range(count):
        args += ["-map", f"[v{i}]"]
        if source.has_audio and not separate:
            args += ["-map", "0:a:0"]
    if separate:
        for j in range(source.audio_streams):
            args += ["-map", f"0:a:{j}"]
    gop = gop_frames(source, options.segment_s)
    # an audio-only rendition would be cut at every start-segment length throughout (the muxer
    # cuts audio anywhere), so a separate audio group keeps the plain grid
    short_start = not separate
    args += [
        "-c:v", "libx264", "-preset", options.preset, "-profile:v", "high",
        "-crf", str(options.crf), "-g", str(gop), "-keyint_min", str(gop),
        "-sc_threshold", "0", "-force_key_frames", keyframe_expression(options, short_start=short_start),
    ]  # fmt: skip
    for i, rung in enumerate(rungs):
        args += [f"-maxrate:v:{i}", str(rung.max_video_bitrate)]
        args += [f"-bufsize:v:{i}", str(rung.max_video_bitrate * 2)]
        if source.has_audio and not separate:
            args += [f"-b:a:{i}", str(rung.audio_bitrate)]
    if separate:
        for j, language in enumerate(source.audio_languages):
            args += [f"-b:a:{j}", str(rungs[-1].audio_bitrate)]
            args += [f"-metadata:s:a:{j}", f"language={language}"]
    if source.has_audio:
        args += ["-c:a", "aac", "-ac", "2", "-ar", "48000"]
    if separate:
        streams = [f"v:{i},name:{r.name}" for i, r in enumerate(rungs)]
        streams += [f"a:{j},name:{name}" for j, name in enumerate(audio_folders(source))]
    else:
        streams = [
            f"v:{i},a:{i},name:{r.name}" if source.has_audio else f"v:{i},name:{r.name}"
            for i, r in enumerate(rungs)
        ]
    args += [
        "-f", "hls", "-hls_time", f"{segmenter_time_s(options, short_start=short_start):g}",
        "-hls_playlist_type", "vod",
        "-hls_segment_type", "fmp4", "-hls_flags", "independent_segments",
        "-hls_fmp4_init_filename", "init.mp4",
        "-hls_segment_filename", str(out_dir / "%v" / "seg_%05d.m4s"),
        "-var_stream_map", " ".join(streams), str(out_dir / "%v" / "index.m3u8"),
    ]  # fmt: skip
    # single thumbnails (tiled into the sprite afterwards): a tile filter here would hold
    # back its muxer, and with it ffmpeg's progress reports, until the very end
    args += ["-map", "[thumbs]", "-q:v", "4", "-start_number", "0"]
    args += [str(out_dir.parent / THUMBS_DIR / "%05d.jpg")]
    return args


def poster_args(*, source_path: Path, source: SourceInfo, out: Path) -> list[str]:
    """One frame a fifth of the way in, at most 720 lines high."""
    at = min(source.duration_s * 0.2, 60.0)
    height = min(720, even(source.height))
    return [
        "-hide_banner", "-nostdin", "-y", "-v", "error", "-ss", f"{at:.3f}",
        "-i", str(source_path), "-frames:v", "1", "-vf", f"scale=-2:{height}",
        "-q:v", "3", str(out),
    ]  # fmt: skip
