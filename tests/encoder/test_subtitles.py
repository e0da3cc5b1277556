"""Subtitle files: SRT and WebVTT read, checked and written as segmented WebVTT; a package
with subtitle tracks publishes them as an HLS SUBTITLES group that ffmpeg reads."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

from cinemesh.services.encoder.embedded_subtitles import extract_subtitles
from cinemesh.services.encoder.subtitles import (
    SubtitleError,
    SubtitleSource,
    parse_subtitles,
    segment_webvtt,
)
from cinemesh.services.encoder.tracks import normal_language, track_name
from tests.encoder.conftest import make_video, package_here
from tests.encoder.hls import parse_attributes

SRT = (
    '1\r\n00:00:00,500 --> 00:00:01,200\r\n<font color="#fff">Hello</font> & <i>welcome</i>\r\n'
    "\r\n2\r\n00:00:01,300 --> 00:00:04,500\r\nSecond line\r\nof two\r\n"
)
VTT = (
    "WEBVTT - a title\n\nNOTE written by hand\n\nintro\n00:00.100 --> 00:01.000 align:start\n"
    "Bonjour\n\n00:00:02.000 --> 00:00:03.000\nAu revoir\n"
)


def test_srt_becomes_webvtt_with_its_text_cleaned() -> None:
    parsed = parse_subtitles(("\ufeff" + SRT).encode())
    assert parsed.source_format == "srt"
    assert [(c.start_ms, c.end_ms) for c in parsed.cues] == [(500, 1200), (1300, 4500)]
    assert parsed.to_webvtt() == (
        "WEBVTT\n\n00:00:00.500 --> 00:00:01.200\nHello &amp; <i>welcome</i>\n\n"
        "00:00:01.300 --> 00:00:04.500\nSecond line\nof two\n"
    )


def test_webvtt_keeps_cue_settings_and_drops_notes() -> None:
    parsed = parse_subtitles(VTT.encode())
    assert parsed.source_format == "webvtt"
    assert [(c.start_ms, c.text, c.settings) for c in parsed.cues] == [
        (100, "Bonjour", "align:start"),
        (2000, "Au revoir", ""),
    ]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "SUBTITLES_EMPTY"),
        (b"  \n\n", "SUBTITLES_EMPTY"),
        (b"\x00\x01\x02\x89PNG\x00\x00", "NOT_SUBTITLES"),
        ("1\n00:00:01,000 --> 00:00:02,000\na\x00b\n".encode("utf-16"), "NOT_SUBTITLES"),
        ("1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9\n".encode("latin-1"), "SUBTITLES_NOT_UTF8"),
        (b"just some prose\nwith no cues\n", "NOT_SUBTITLES"),
        (b"WEBVTT\n\n", "SUBTITLES_NO_CUES"),
        (b"1\n-00:00:01,000 --> 00:00:02,000\nx\n", "SUBTITLES_MALFORMED"),
        (b"1\n00:00:01,000 --> 00:00:75,000\nx\n", "SUBTITLES_MALFORMED"),
        (b"1\n00:00:02,000 --> 00:00:01,000\nx\n", "SUBTITLES_BAD_CUE_TIMES"),
        (
            b"1\n00:00:05,000 --> 00:00:06,000\na\n\n2\n00:00:01,000 --> 00:00:02,000\nb\n",
            "SUBTITLES_OUT_OF_ORDER",
        ),
        (
            b"1\n00:00:01,000 --> 00:00:03,000\na\n\n2\n00:00:02,000 --> 00:00:04,000\nb\n",
            "SUBTITLES_OVERLAP",
        ),
    ],
)
def test_unusable_files_are_refused_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(SubtitleError) as refused:
        parse_subtitles(data)
    assert refused.value.code == code, refused.value.message


def test_utf16_with_a_bom_is_read() -> None:
    parsed = parse_subtitles(SRT.encode("utf-16"))
    assert len(parsed.cues) == 2


def test_segments_repeat_a_cue_across_a_boundary_and_carry_the_timestamp_map() -> None:
    cues = parse_subtitles(SRT.encode()).cues
    segments = segment_webvtt(cues, segment_s=2, duration_s=5.0)
    assert len(segments) == 3
    assert all("X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000" in s for s in segments)
    assert "Hello" in segments[0] and "Hello" not in segments[1]
    assert all("Second line" in s for s in segments)


def test_languages_are_normalised_and_named() -> None:
    assert normal_language("EN-us") == "en-US"
    assert normal_language("zh-hant-tw") == "zh-Hant-TW"
    assert track_name("fr", "captions") == "Français (CC)"
    assert track_name("xx", "subtitles") == "xx"


def test_a_package_publishes_subtitle_renditions_that_ffmpeg_reads(tmp_path: Path) -> None:
    source = make_video(tmp_path / "in.mp4", width=320, height=180, seconds=2, fps=12)
    tracks = [
        SubtitleSource("en", "captions", "English (CC)", parse_subtitles(SRT.encode()).to_webvtt()),
        SubtitleSource("fr", "subtitles", "Français", parse_subtitles(VTT.encode()).to_webvtt()),
    ]
    manifest, asset = package_here(source, tmp_path, subtitles=tracks)
    master = (asset / "master.m3u8").read_text().splitlines()
    media = [parse_attributes(m.split(":", 1)[1]) for m in master if m.startswith("#EXT-X-MEDIA:")]
    assert [(m["TYPE"], m["LANGUAGE"], m["NAME"], m["GROUP-ID"]) for m in media] == [
        ("SUBTITLES", "en", "English (CC)", "subs"),
        ("SUBTITLES", "fr", "Français", "subs"),
    ]
    assert "transcribes-spoken-dialog" in media[0]["CHARACTERISTICS"]
    assert "CHARACTERISTICS" not in media[1]
    assert all(m["DEFAULT"] == "NO" and m["AUTOSELECT"] == "YES" for m in media)
    variants = [line for line in master if line.startswith("#EXT-X-STREAM-INF:")]
    assert variants and all('SUBTITLES="subs"' in v for v in variants)
    assert not any("AUDIO=" in v for v in variants), "one audio stream stays in the variants"
    assert [s["language"] for s in manifest["subtitles"]] == ["en", "fr"]
    playlist = (asset / media[1]["URI"]).read_text()
    assert "#EXT-X-ENDLIST" in playlist and playlist.count(".vtt") == 2
    first = (asset / media[1]["URI"]).parent / "00000.vtt"
    assert "Bonjour" in first.read_text()

    # ffmpeg's HLS demuxer finds the subtitle rendition next to the video
    probed = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(asset / "master.m3u8")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Subtitle: webvtt" in probed.stderr, probed.stderr[-2000:]


def test_a_sources_text_subtitle_streams_become_checked_tracks(tmp_path: Path) -> None:
    german, plain = tmp_path / "de.srt", tmp_path / "plain.srt"
    german.write_text("1\n00:00:00,500 --> 00:00:01,500\n[Musik] Hallo\n")
    plain.write_text(SRT)
    source = tmp_path / "with-subs.mkv"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=64x64:rate=5:duration=2", "-i", str(german), "-i", str(plain),
         "-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-preset", "ultrafast",
         "-c:s", "srt", "-metadata:s:s:0", "language=ger",
         "-disposition:s:0", "hearing_impaired", str(source)],
        check=True, timeout=60,
    )  # fmt: skip
    tracks = asyncio.run(extract_subtitles(source))
    assert [(t.language, t.kind, len(t.subtitles.cues)) for t in tracks] == [
        ("de", "captions", 1),
        ("und", "subtitles", 2),
    ]
    assert tracks[0].subtitles.cues[0].text == "[Musik] Hallo"
    assert asyncio.run(extract_subtitles(make_video(tmp_path / "none.mp4", seconds=1))) == []
