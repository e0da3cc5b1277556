"""The side files `cinemesh ingest` takes with a video, checked on this machine before anything
is uploaded: `--subtitles FILE:LANG[:KIND]` (or `LANG:FILE[:KIND]`, as DESIGN.md writes it),
uploaded as tracks; `--audio FILE:LANG`, added to the source as further audio streams with
their language (a stream copy into Matroska, no re-encoding), which the encoder publishes as
an audio rendition group."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av

from cinemesh.services.encoder.public import (
    LANGUAGE_PATTERN,
    SubtitleError,
    ffmpeg_exe,
    parse_subtitles,
)

KINDS = {
    "": "subtitles",
    "subs": "subtitles",
    "subtitles": "subtitles",
    "sdh": "captions",
    "cc": "captions",
    "captions": "captions",
    "forced": "forced",
}
LANGUAGE = re.compile(LANGUAGE_PATTERN)


class SideFileError(Exception):
    """A side file given on the command line cannot be used; the message says why."""


@dataclass(frozen=True)
class SubtitleFile:
    path: Path
    language: str
    kind: str  # subtitles, captions or forced

    def describe(self) -> str:
        return f"{self.language} {self.kind} ({self.path.name})"


@dataclass(frozen=True)
class AudioFile:
    path: Path
    language: str


def subtitle_file(spec: str) -> SubtitleFile:
    """`FILE:LANG[:KIND]` or `LANG:FILE[:KIND]`, KIND one of sdh/cc/captions, forced, subs;
    the file must exist and be SRT or WebVTT the encoder takes."""
    parts = spec.split(":")
    kind = ""
    if len(parts) > 2 and parts[-1].lower() in KINDS:
        kind = parts.pop().lower()
    if len(parts) != 2:
        raise SideFileError(f"--subtitles {spec!r}: give FILE:LANG[:sdh], e.g. film.en.srt:en")
    path, language = _file_and_language("--subtitles", spec, parts)
    try:
        parse_subtitles(path.read_bytes())
    except SubtitleError as exc:
        raise SideFileError(f"--subtitles {path.name}: {exc.code}: {exc.message}") from None
    return SubtitleFile(path, language, KINDS[kind])


def audio_file(spec: str) -> AudioFile:
    """`FILE:LANG` (or `LANG:FILE`): a file with an audio stream PyAV can read."""
    path, language = _file_and_language("--audio", spec, spec.split(":"))
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise SideFileError(f"--audio {path.name}: the file has no audio stream")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        raise SideFileError(f"--audio {path.name}: not an audio file cinemesh can read") from None
    return AudioFile(path, language)


def with_audio(video: Path, extra: list[AudioFile], into: Path) -> Path:
    """The video with each extra audio file as one more audio stream tagged with its language,
    streams copied as they are; `into` is a folder for the result."""
    out = into / f"{video.stem}.with-audio.mkv"
    with av.open(str(video), metadata_errors="ignore") as container:
        own = len(container.streams.audio)
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(video)]
    for track in extra:
        args += ["-i", str(track.path)]
    args += ["-map", "0:v:0", "-map", "0:a?"]
    for i, _ in enumerate(extra, start=1):
        args += ["-map", f"{i}:a:0"]
    for j, track in enumerate(extra, start=own):
        args += [f"-metadata:s:a:{j}", f"language={track.language}"]
    args += ["-c", "copy", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SideFileError(f"could not add the audio files: {done.stderr.strip()[-400:]}")
    return out


def _file_and_language(option: str, spec: str, parts: list[str]) -> tuple[Path, str]:
    if len(parts) != 2:
        raise SideFileError(f"{option} {spec!r}: give FILE:LANG, e.g. film.fr.srt:fr")
    first, second = parts
    file_first = Path(first).is_file() or not (LANGUAGE.match(first) or Path(second).is_file())
    path, language = (Path(first), second) if file_first else (Path(second), first)
    if not LANGUAGE.match(language):
        raise SideFileError(f"{option} {spec!r}: {language!r} is not a language code like en")
    if not path.is_file():
        raise SideFileError(f"{option} {spec!r}: there is no file {str(path)!r}")
    return path, language
