"""Subtitle streams a source carries (Matroska and MP4 often do): the text ones are converted
to WebVTT by ffmpeg and checked like an uploaded file; picture subtitles (DVD, Blu-ray) and a
stream that fails the checks are left out, and the upload goes on without them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from cinemesh.services.encoder.ffmpeg import ffmpeg_exe
from cinemesh.services.encoder.subtitles import SubtitleError, Subtitles, parse_subtitles
from cinemesh.services.encoder.tracks import stream_language

TEXT_CODECS = frozenset({"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text"})
MAX_STREAMS = 16


@dataclass(frozen=True)
class EmbeddedTrack:
    language: str
    kind: str  # subtitles, captions (hearing impaired) or forced
    subtitles: Subtitles


def text_subtitle_streams(path: Path) -> list[tuple[int, str, str]]:
    """(index among subtitle streams, language, kind) of each text subtitle stream."""
    found = []
    with av.open(str(path), metadata_errors="ignore") as container:
        for n, stream in enumerate(container.streams.subtitles[:MAX_STREAMS]):
            if str(stream.codec_context.name) in TEXT_CODECS:
                found.append((n, stream_language(stream), _kind(stream)))
    return found


async def extract_subtitles(path: Path) -> list[EmbeddedTrack]:
    """Every text subtitle stream of the source as a checked track."""
    try:
        streams = await asyncio.to_thread(text_subtitle_streams, path)
    except (av.FFmpegError, OSError, ValueError):
        return []
    tracks = []
    for n, language, kind in streams:
        webvtt = await _as_webvtt(path, n)
        if webvtt is None:
            continue
        try:
            tracks.append(EmbeddedTrack(language, kind, parse_subtitles(webvtt)))
        except SubtitleError:
            continue
    return tracks


async def _as_webvtt(path: Path, stream: int) -> bytes | None:
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path),
        "-map", f"0:s:{stream}", "-f", "webvtt", "pipe:1",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return out if proc.returncode == 0 and out else None


def _kind(stream: Any) -> str:
    flags = getattr(stream, "disposition", None)  # an IntFlag; its name lists the flags set
    disposition = str(getattr(flags, "name", "") or "").lower()
    if "hearing_impaired" in disposition:
        return "captions"
    if "forced" in disposition:
        return "forced"
    return "subtitles"
