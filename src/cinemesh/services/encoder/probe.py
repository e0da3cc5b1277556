"""What an uploaded file is, found with PyAV (the shipped ffmpeg has no ffprobe); anything that
is not a complete, decodable video is refused with a code the uploader can act on."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from cinemesh.services.encoder.tracks import stream_language

MIN_SIDE = 32
MAX_SIDE = 8192
TRUNCATION_TOLERANCE = 0.9  # packets must cover this share of the declared duration
IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "gif", "webp_pipe", "bmp_pipe", "tiff_pipe")


class ProbeError(Exception):
    """The file is not a usable video; `code` is what the API answers with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SourceInfo:
    width: int
    height: int
    fps: float
    duration_s: float
    video_codec: str
    has_audio: bool
    container: str
    # one language tag per audio stream, in stream order ("und" when the stream has none)
    audio_languages: tuple[str, ...] = ()

    @property
    def audio_streams(self) -> int:
        return len(self.audio_languages) or int(self.has_audio)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "audio_languages": list(self.audio_languages)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceInfo:
        """Also a job's record from before audio languages were probed (one stream, if any)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["audio_languages"] = tuple(known.get("audio_languages") or ())
        return cls(**known)


def probe(path: Path) -> SourceInfo:
    """Open, check and measure a source; raises ProbeError for anything unusable."""
    if path.stat().st_size == 0:
        raise ProbeError("EMPTY_FILE", "the uploaded file is empty")
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        raise ProbeError(
            "NOT_A_VIDEO", "the file is not a video cinemesh can read (or it is cut short)"
        ) from None
    with container:
        return _inspect(container)


def _inspect(container: Any) -> SourceInfo:
    if container.format.name in IMAGE_FORMATS or not container.streams.video:
        raise ProbeError("NOT_A_VIDEO", "the file has no video stream")
    video = container.streams.video[0]
    width, height = int(video.codec_context.width or 0), int(video.codec_context.height or 0)
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ProbeError(
            "UNSUPPORTED_RESOLUTION",
            f"the video is {width}x{height}; sides must be {MIN_SIDE} to {MAX_SIDE} pixels",
        )
    _decode_first_frame(container, video)
    covered = _covered_seconds(container, video)
    declared = container.duration / av.time_base if container.duration else None
    if declared and covered < declared * TRUNCATION_TOLERANCE:
        raise ProbeError(
            "TRUNCATED_VIDEO",
            f"the file holds {covered:.1f}s of the {declared:.1f}s it declares; "
            "the upload looks cut short",
        )
    duration = declared or covered
    if duration < 0.5:
        raise ProbeError("TOO_SHORT", "the video must be at least half a second long")
    rate = video.average_rate or video.guessed_rate or Fraction(25)
    return SourceInfo(
        width=width,
        height=height,
        fps=round(float(rate), 3),
        duration_s=round(float(duration), 3),
        video_codec=str(video.codec_context.name),
        has_audio=bool(container.streams.audio),
        container=str(container.format.name),
        audio_languages=tuple(stream_language(a) for a in container.streams.audio),
    )


def _decode_first_frame(container: Any, video: Any) -> None:
    try:
        for _frame in container.decode(video):
            return
    except (av.FFmpegError, ValueError):
        pass
    raise ProbeError("CORRUPT_VIDEO", "the video stream cannot be decoded")


def _covered_seconds(container: Any, video: Any) -> float:
    """Demux (no decoding) to the end: how far the video packets actually reach."""
    container.seek(0)
    first: float | None = None
    last = 0.0
    try:
        for packet in container.demux(video):
            if packet.size == 0 or packet.pts is None:
                continue
            start = float(packet.pts * video.time_base)
            end = start + float((packet.duration or 0) * video.time_base)
            first = start if first is None else min(first, start)
            last = max(last, end)
    except (av.FFmpegError, ValueError):
        raise ProbeError("CORRUPT_VIDEO", "the video breaks off with unreadable data") from None
    if first is None:
        raise ProbeError("CORRUPT_VIDEO", "the video stream holds no pictures")
    return last - first
