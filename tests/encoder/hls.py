"""An independent check of a published HLS package: its own small m3u8 parser, PyAV for
keyframes and the shipped ffmpeg decoding the master playlist end to end."""

from __future__ import annotations

import io
import itertools
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import av
import imageio_ffmpeg

DURATION_TOLERANCE_S = 0.25


@dataclass
class Variant:
    uri: str
    attributes: dict[str, str]


@dataclass
class MediaPlaylist:
    target_duration: int
    init: str
    segments: list[tuple[str, float]] = field(default_factory=list)
    ended: bool = False
    vod: bool = False


def parse_attributes(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    key, value, quoted, reading_key = "", "", False, True
    for ch in text + ",":
        if reading_key:
            if ch == "=":
                reading_key = False
            else:
                key += ch
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out[key.strip()] = value
            key, value, reading_key = "", "", True
        else:
            value += ch
    return out


def parse_master(text: str) -> list[Variant]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0] == "#EXTM3U", "a playlist starts with #EXTM3U"
    variants: list[Variant] = []
    pending: dict[str, str] | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = parse_attributes(line.split(":", 1)[1])
        elif not line.startswith("#"):
            assert pending is not None, f"URI {line} without #EXT-X-STREAM-INF"
            variants.append(Variant(line, pending))
            pending = None
    return variants


def parse_media(text: str) -> MediaPlaylist:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0] == "#EXTM3U"
    playlist = MediaPlaylist(target_duration=0, init="")
    duration: float | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-TARGETDURATION:"):
            playlist.target_duration = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MAP:"):
            playlist.init = parse_attributes(line.split(":", 1)[1])["URI"]
        elif line.startswith("#EXT-X-PLAYLIST-TYPE:"):
            playlist.vod = line.endswith("VOD")
        elif line == "#EXT-X-ENDLIST":
            playlist.ended = True
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",", 1)[0])
        elif not line.startswith("#"):
            assert duration is not None, f"segment {line} without #EXTINF"
            playlist.segments.append((line, duration))
            duration = None
    return playlist


def first_video_packet_is_key(init: Path, segment: Path) -> bool:
    data = io.BytesIO(init.read_bytes() + segment.read_bytes())
    with av.open(data, mode="r") as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size:
                return bool(packet.is_keyframe)
    return False


def start_durations(segment_s: float, start_segment_s: float = 1.0) -> list[float]:
    """The short segments a rendition opens with: 1, 1, 2 s before 4 s segments."""
    ends, at = [], start_segment_s
    while at < segment_s:
        ends.append(at)
        at *= 2
    if not ends:
        return []
    edges = [0.0, *ends, segment_s]
    return [b - a for a, b in itertools.pairwise(edges)]


def check_package(folder: Path, *, segment_s: float = 4.0, expect_audio: bool = True) -> dict:
    """Assert everything a player relies on (segments of segment_s after the short start ones);
    returns what it found for further checks."""
    for name in ("master.m3u8", "poster.jpg", "thumbs.jpg", "thumbs.vtt"):
        assert (folder / name).is_file(), f"{name} missing"
    variants = parse_master((folder / "master.m3u8").read_text())
    assert variants, "the master playlist lists no variant"
    boundaries: list[list[float]] = []
    for variant in variants:
        attrs = variant.attributes
        assert int(attrs["BANDWIDTH"]) > 0
        width, height = (int(x) for x in attrs["RESOLUTION"].split("x"))
        codecs = attrs["CODECS"].split(",")
        assert codecs[0].startswith("avc1."), codecs
        assert ("mp4a.40.2" in codecs) == expect_audio, codecs
        media_path = folder / variant.uri
        playlist = parse_media(media_path.read_text())
        assert playlist.ended and playlist.vod and playlist.init
        base = media_path.parent
        durations = [d for _, d in playlist.segments]
        assert durations, f"{variant.uri} has no segments"
        start = start_durations(segment_s)
        for d, want in zip(durations[:-1], start + [segment_s] * len(durations), strict=False):
            assert abs(d - want) <= DURATION_TOLERANCE_S, (variant.uri, durations)
        assert 0 < durations[-1] <= segment_s + DURATION_TOLERANCE_S, durations
        assert playlist.target_duration <= segment_s + 1
        for uri, _ in playlist.segments:
            assert first_video_packet_is_key(base / playlist.init, base / uri), (
                f"{variant.uri}: {uri} does not start with a keyframe"
            )
        with av.open(str(base / playlist.init)) as init:
            stream = init.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (width, height)
        edges, at = [], 0.0
        for d in durations:
            at += d
            edges.append(round(at, 2))
        boundaries.append(edges)
    for edges in boundaries[1:]:
        assert len(edges) == len(boundaries[0]), boundaries
        assert all(abs(a - b) <= 0.05 for a, b in zip(edges, boundaries[0], strict=True))
    decoded = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", "master.m3u8", "-map", "0",
         "-f", "null", "-"],
        cwd=folder, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert decoded.returncode == 0 and not decoded.stderr.strip(), decoded.stderr[-2000:]
    vtt = (folder / "thumbs.vtt").read_text()
    assert vtt.startswith("WEBVTT") and "thumbs.jpg#xywh=" in vtt
    return {"variants": variants, "boundaries": boundaries[0]}
