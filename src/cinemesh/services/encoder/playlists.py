"""The HLS side of a package: reading the rendition playlists ffmpeg wrote, measuring their
real bitrates, the codec strings from the init segments and the master playlist."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

AAC_LC = "mp4a.40.2"
MIN_PEAK_SEGMENT_S = 1.0  # a very short last segment would overstate the peak


@dataclass(frozen=True)
class MediaPlaylist:
    init: str
    segments: list[tuple[str, float]]  # (uri, duration)

    @property
    def duration_s(self) -> float:
        return sum(d for _, d in self.segments)


@dataclass(frozen=True)
class Bitrates:
    peak: int
    average: int


def read_media_playlist(path: Path) -> MediaPlaylist:
    init = ""
    segments: list[tuple[str, float]] = []
    duration: float | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-MAP:"):
            init = line.split('URI="', 1)[1].split('"', 1)[0]
        elif line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((line, duration))
            duration = None
    return MediaPlaylist(init, segments)


def measure_bitrates(folder: Path, playlist: MediaPlaylist) -> Bitrates:
    """Peak and average bits per second over the segments, as HLS BANDWIDTH wants them."""
    sizes = [((folder / uri).stat().st_size, d) for uri, d in playlist.segments]
    total_bits = sum(size for size, _ in sizes) * 8
    average = total_bits / max(playlist.duration_s, 1e-6)
    peaks = [size * 8 / d for size, d in sizes if d >= MIN_PEAK_SEGMENT_S] or [average]
    return Bitrates(peak=int(max(max(peaks), average)), average=int(average))


def avc_codec(init_segment: Path) -> str:
    """`avc1.PPCCLL` from the avcC box: profile, constraint flags, level."""
    data = init_segment.read_bytes()
    at = data.find(b"avcC")
    if at < 0 or len(data) < at + 8:
        raise ValueError(f"no avcC box in {init_segment.name}")
    profile, constraints, level = data[at + 5], data[at + 6], data[at + 7]
    return f"avc1.{profile:02x}{constraints:02x}{level:02x}"


@dataclass(frozen=True)
class Variant:
    uri: str
    bandwidth: int
    average_bandwidth: int
    width: int
    height: int
    codecs: str
    fps: float


SUBTITLES_GROUP = "subs"
AUDIO_GROUP = "aud"
# what Apple's authoring spec names captions for the deaf and hard of hearing by
SDH = (
    "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound"
)


@dataclass(frozen=True)
class SubtitleRendition:
    uri: str
    language: str
    name: str
    kind: str  # subtitles, captions or forced

    def media_line(self) -> str:
        forced = self.kind == "forced"
        line = (
            f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{SUBTITLES_GROUP}",'
            f'LANGUAGE="{self.language}",NAME="{_quoted(self.name)}",DEFAULT=NO,'
            f"AUTOSELECT=YES,FORCED={'YES' if forced else 'NO'}"
        )
        if self.kind == "captions":
            line += f',CHARACTERISTICS="{SDH}"'
        return f'{line},URI="{self.uri}"'


@dataclass(frozen=True)
class AudioRendition:
    uri: str
    language: str
    name: str
    default: bool
    bandwidth: int  # peak bits per second, added to each variant's BANDWIDTH

    def media_line(self) -> str:
        return (
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",LANGUAGE="{self.language}",'
            f'NAME="{_quoted(self.name)}",DEFAULT={"YES" if self.default else "NO"},'
            f'AUTOSELECT=YES,CHANNELS="2",URI="{self.uri}"'
        )


def master_playlist(
    variants: list[Variant],
    subtitles: Sequence[SubtitleRendition] = (),
    audio: Sequence[AudioRendition] = (),
) -> str:
    """Variants with, when given, their audio and subtitle rendition groups (a variant's
    BANDWIDTH then counts the group's largest audio rendition too, as HLS wants)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    lines += [a.media_line() for a in audio]
    lines += [s.media_line() for s in subtitles]
    groups = f',AUDIO="{AUDIO_GROUP}"' if audio else ""
    groups += f',SUBTITLES="{SUBTITLES_GROUP}"' if subtitles else ""
    for v in sorted(variants, key=lambda v: v.bandwidth):
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={v.bandwidth},AVERAGE-BANDWIDTH={v.average_bandwidth},"
            f'RESOLUTION={v.width}x{v.height},CODECS="{v.codecs}",FRAME-RATE={v.fps:.3f}{groups}'
        )
        lines.append(v.uri)
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    """A quoted-string attribute may hold neither a double quote nor a line break."""
    return text.replace('"', "'").replace("\n", " ").replace("\r", " ")
