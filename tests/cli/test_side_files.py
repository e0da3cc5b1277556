"""`cinemesh ingest --subtitles` and `--audio`: the spec read either way round, the file checked
here before anything is uploaded, extra audio files added to the source as tagged streams."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import imageio_ffmpeg
import pytest

from cinemesh.cli.side_files import (
    SideFileError,
    SubtitleFile,
    audio_file,
    subtitle_file,
    with_audio,
)

SRT = "1\n00:00:01,000 --> 00:00:02,000\nHello\n"


def test_a_spec_names_the_file_and_language_either_way_round(tmp_path: Path) -> None:
    track = tmp_path / "film.en.srt"
    track.write_text(SRT)
    assert subtitle_file(f"{track}:en") == SubtitleFile(track, "en", "subtitles")
    assert subtitle_file(f"pt-BR:{track}:sdh") == SubtitleFile(track, "pt-BR", "captions")
    assert subtitle_file(f"{track}:fr:forced").kind == "forced"


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("{track}", "give FILE:LANG"),
        ("{track}:english!", "not a language code"),
        ("{missing}:en", "there is no file"),
        ("{bad}:en", "SUBTITLES_OUT_OF_ORDER"),
    ],
)
def test_an_unusable_spec_or_file_is_refused_before_any_upload(
    tmp_path: Path, spec: str, said: str
) -> None:
    track, bad = tmp_path / "ok.srt", tmp_path / "bad.srt"
    track.write_text(SRT)
    bad.write_text(SRT.replace("1\n", "2\n00:00:05,000 --> 00:00:06,000\nlater\n\n1\n", 1))
    given = spec.format(track=track, bad=bad, missing=tmp_path / "none.srt")
    with pytest.raises(SideFileError, match=said):
        subtitle_file(given)


def test_extra_audio_files_become_tagged_audio_streams_of_the_source(tmp_path: Path) -> None:
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    video, french = tmp_path / "film.mp4", tmp_path / "film.fr.m4a"
    lavfi = ["-f", "lavfi", "-i"]
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", *lavfi, "testsrc2=size=64x64:rate=5:duration=1",
         *lavfi, "sine=duration=1", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
         "-metadata:s:a:0", "language=eng", str(video)],
        check=True, timeout=60,
    )  # fmt: skip
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", *lavfi, "sine=frequency=880:duration=1", "-c:a", "aac",
         str(french)],
        check=True, timeout=60,
    )  # fmt: skip
    with pytest.raises(SideFileError, match=r"no audio stream|not an audio file"):
        audio_file(f"{srt_file(tmp_path)}:fr")
    merged = with_audio(video, [audio_file(f"fr:{french}")], tmp_path)
    with av.open(str(merged)) as container:
        tags = [s.metadata.get("language") for s in container.streams.audio]
        assert len(container.streams.video) == 1
    assert tags == ["eng", "fr"]


def srt_file(folder: Path) -> Path:
    path = folder / "not-audio.srt"
    path.write_text(SRT)
    return path
