"""The side files `cinemesh ingest` takes with a video: `--subtitles FILE:LANG[:KIND]` (or
`LANG:FILE[:KIND]`, as DESIGN.md writes it), checked on this machine before anything is
uploaded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cinemesh.services.encoder.public import LANGUAGE_PATTERN, SubtitleError, parse_subtitles

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


def subtitle_file(spec: str) -> SubtitleFile:
    """`FILE:LANG[:KIND]` or `LANG:FILE[:KIND]`, KIND one of sdh/cc/captions, forced, subs;
    the file must exist and be SRT or WebVTT the encoder takes."""
    parts = spec.split(":")
    kind = ""
    if len(parts) > 2 and parts[-1].lower() in KINDS:
        kind = parts.pop().lower()
    if len(parts) != 2:
        raise SideFileError(f"--subtitles {spec!r}: give FILE:LANG[:sdh], e.g. film.en.srt:en")
    first, second = parts
    file_first = Path(first).is_file() or not (LANGUAGE.match(first) or Path(second).is_file())
    path, language = (Path(first), second) if file_first else (Path(second), first)
    if not LANGUAGE.match(language):
        raise SideFileError(f"--subtitles {spec!r}: {language!r} is not a language code like en")
    if not path.is_file():
        raise SideFileError(f"--subtitles {spec!r}: there is no file {str(path)!r}")
    try:
        parse_subtitles(path.read_bytes())
    except SubtitleError as exc:
        raise SideFileError(f"--subtitles {path.name}: {exc.code}: {exc.message}") from None
    return SubtitleFile(path, language, KINDS[kind])
