"""`cinemesh ingest --subtitles`: the spec read either way round, and the file checked here
before anything is uploaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from cinemesh.cli.side_files import SideFileError, SubtitleFile, subtitle_file

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
