"""Subtitle and caption files: SRT or WebVTT in, checked cue by cue, WebVTT out, cut into
HLS segments. Anything that is not clean, ordered, UTF-8 subtitles is refused with a code
and the line it failed at, before anything is stored."""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass

MAX_BYTES = 4 * 1024**2
MAX_CUES = 50_000
MAX_TIME_MS = 48 * 3600 * 1000
KINDS = ("subtitles", "captions", "forced")
TIMING = re.compile(
    r"^\s*(?P<start>(?:\d+:)?\d{1,2}:\d{2}[,.]\d{1,3})\s*-->\s*"
    r"(?P<end>(?:\d+:)?\d{1,2}:\d{2}[,.]\d{1,3})(?P<settings>(?:\s+\S+)*)\s*$"
)
SRT_TAG = re.compile(r"</?(?!(?:i|b|u)>)[a-zA-Z][^>]*>")
BARE_AMPERSAND = re.compile(r"&(?!(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);)")
BOMS = (("utf-8-sig", b"\xef\xbb\xbf"), ("utf-16", b"\xff\xfe"), ("utf-16", b"\xfe\xff"))


class SubtitleError(Exception):
    """The file is not usable subtitles; `code` is what the API answers with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    text: str
    settings: str = ""


@dataclass(frozen=True)
class Subtitles:
    cues: list[Cue]
    source_format: str  # "srt" or "webvtt"

    def to_webvtt(self) -> str:
        return _document(self.cues, header="WEBVTT")


@dataclass(frozen=True)
class SubtitleSource:
    """A checked track as a package takes it: its language, kind, menu name and WebVTT."""

    language: str
    kind: str
    name: str
    webvtt: str


def parse_subtitles(data: bytes) -> Subtitles:
    """Read an SRT or WebVTT file and check it; raises SubtitleError for anything unusable."""
    text = _decode(data)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[0].startswith("WEBVTT") and lines[0][6:7] in ("", " ", "\t"):
        cues, kind = _cues(lines, first=_after_header(lines), srt=False), "webvtt"
    else:
        cues, kind = _cues(lines, first=0, srt=True), "srt"
    _check(cues)
    return Subtitles(cues, kind)


def segment_webvtt(cues: list[Cue], *, segment_s: int, duration_s: float) -> list[str]:
    """One WebVTT document per HLS segment of `segment_s` over the title; a cue crossing a
    boundary is in both (players drop the repeat), cues past the end are in the last one."""
    count = max(1, math.ceil(duration_s / segment_s))
    step = segment_s * 1000
    header = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000"
    # checked cues neither overlap nor go back, so starts and ends both ascend
    starts, ends = [c.start_ms for c in cues], [c.end_ms for c in cues]
    documents = []
    for i in range(count):
        start, end = i * step, (i + 1) * step if i < count - 1 else MAX_TIME_MS + 1
        first = bisect.bisect_right(ends, start)
        last = bisect.bisect_left(starts, end, lo=first)
        documents.append(_document(cues[first:last], header=header))
    return documents


def subtitle_playlist(segments: list[str], *, segment_s: int, duration_s: float) -> str:
    """The media playlist of a subtitle rendition whose segments are `NNNNN.vtt`."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{segment_s}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for i, _ in enumerate(segments):
        length = min(segment_s, max(duration_s - i * segment_s, 0.001))
        lines += [f"#EXTINF:{length:.3f},", f"{i:05d}.vtt"]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _decode(data: bytes) -> str:
    if not data.strip():
        raise SubtitleError("SUBTITLES_EMPTY", "the subtitle file is empty")
    if len(data) > MAX_BYTES:
        raise SubtitleError(
            "SUBTITLES_TOO_LARGE", f"a subtitle file may be at most {MAX_BYTES} bytes"
        )
    for encoding, bom in BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding).lstrip("\ufeff")
            except UnicodeDecodeError:
                break
            if "\x00" in text:
                break
            return text
    if b"\x00" in data:
        raise SubtitleError("NOT_SUBTITLES", "the file is binary, not SRT or WebVTT text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SubtitleError(
            "SUBTITLES_NOT_UTF8",
            f"the file is not UTF-8 text (line {line}, byte {exc.start}); save it as UTF-8",
        ) from None


def _after_header(lines: list[str]) -> int:
    """Index of the first line after the WebVTT header block."""
    for i, line in enumerate(lines):
        if not line.strip():
            return i
    return len(lines)


def _blocks(lines: list[str], first: int) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks as (1-based line number, lines)."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = first
    for i in range(first, len(lines)):
        if lines[i].strip():
            if not current:
                start = i
            current.append(lines[i])
        elif current:
            blocks.append((start + 1, current))
            current = []
    if current:
        blocks.append((start + 1, current))
    return blocks


def _cues(lines: list[str], *, first: int, srt: bool) -> list[Cue]:
    cues: list[Cue] = []
    for line_no, block in _blocks(lines, first):
        head = block[0].strip()
        if not srt and head.split(maxsplit=1)[0] in ("NOTE", "STYLE", "REGION"):
            continue
        at = next((i for i, line in enumerate(block[:2]) if "-->" in line), None)
        if at is None:
            raise SubtitleError(
                "NOT_SUBTITLES",
                f"line {line_no}: expected a cue with a timing line "
                "(00:00:01,000 --> 00:00:02,000); this is not SRT or WebVTT",
            )
        if srt and at == 1 and not head.isdigit():
            raise SubtitleError(
                "SUBTITLES_MALFORMED", f"line {line_no}: an SRT cue number must be a number"
            )
        cues.append(_cue(block[at], block[at + 1 :], line_no=line_no + at, srt=srt))
        if len(cues) > MAX_CUES:
            raise SubtitleError("SUBTITLES_TOO_LARGE", f"more than {MAX_CUES} cues")
    return cues


def _cue(timing: str, text: list[str], *, line_no: int, srt: bool) -> Cue:
    found = TIMING.match(timing)
    if found is None:
        raise SubtitleError(
            "SUBTITLES_MALFORMED",
            f"line {line_no}: malformed or negative cue time {timing.strip()[:80]!r}",
        )
    start, end = _millis(found["start"], line_no), _millis(found["end"], line_no)
    body = "\n".join(line.rstrip() for line in text).replace("-->", "->")
    settings = "" if srt else " ".join(found["settings"].split())
    if srt:
        body = BARE_AMPERSAND.sub("&amp;", SRT_TAG.sub("", body))
    return Cue(start, end, body, settings)


def _millis(stamp: str, line_no: int) -> int:
    whole, fraction = re.split(r"[,.]", stamp)
    parts = [int(p) for p in whole.split(":")]
    hours, minutes, seconds = ([0, *parts] if len(parts) == 2 else parts)[-3:]
    if minutes > 59 or seconds > 59:
        raise SubtitleError("SUBTITLES_MALFORMED", f"line {line_no}: impossible time {stamp!r}")
    millis = int(fraction.ljust(3, "0"))
    total = ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis
    if total > MAX_TIME_MS:
        raise SubtitleError("SUBTITLES_MALFORMED", f"line {line_no}: time {stamp!r} is too late")
    return total


def _check(cues: list[Cue]) -> None:
    if not cues:
        raise SubtitleError("SUBTITLES_NO_CUES", "the file holds no subtitle cues")
    previous: Cue | None = None
    for n, cue in enumerate(cues, start=1):
        if cue.end_ms <= cue.start_ms:
            raise SubtitleError(
                "SUBTITLES_BAD_CUE_TIMES",
                f"cue {n} ({_stamp(cue.start_ms)}) ends at or before its start",
            )
        if previous is not None and cue.start_ms < previous.start_ms:
            raise SubtitleError(
                "SUBTITLES_OUT_OF_ORDER",
                f"cue {n} starts at {_stamp(cue.start_ms)}, before cue {n - 1} "
                f"({_stamp(previous.start_ms)}); cues must be in time order",
            )
        if previous is not None and cue.start_ms < previous.end_ms:
            raise SubtitleError(
                "SUBTITLES_OVERLAP",
                f"cue {n} starts at {_stamp(cue.start_ms)}, while cue {n - 1} is still shown "
                f"(until {_stamp(previous.end_ms)})",
            )
        previous = cue


def _stamp(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _document(cues: list[Cue], *, header: str) -> str:
    parts = [header, ""]
    for cue in cues:
        timing = f"{_stamp(cue.start_ms)} --> {_stamp(cue.end_ms)}"
        parts += [f"{timing} {cue.settings}".rstrip(), cue.text, ""]
    return "\n".join(parts)
