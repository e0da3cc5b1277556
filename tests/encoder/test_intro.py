"""Intro and credits detection on generated seasons (no platform): episodes with bodies of
their own and the same 15 s intro at different offsets, encoded to AAC so that the decoding
path and lossy coding are part of the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cinemesh.demo.season import RATE as SEASON_RATE
from cinemesh.demo.season import body, make_season, theme, write_wav
from cinemesh.services.encoder.intro import (
    RATE,
    IntroError,
    detect_intros,
    detect_markers,
    fingerprint,
    listen,
    season_markers,
)
from cinemesh.services.encoder.public import detect_intros as public_detect_intros

TOLERANCE_S = 1.0


def test_the_shared_intro_is_found_in_every_episode_within_a_second(tmp_path: Path) -> None:
    # offsets that are not whole hops apart, as real episodes are
    season = make_season(tmp_path, offsets=(0.0, 20.03, 42.07), durations=(75.0, 80.0, 90.0))
    found = detect_intros([e.path for e in season])
    for episode, intro in zip(season, found, strict=True):
        assert intro is not None and episode.intro is not None
        assert abs(intro.start_s - episode.intro[0]) <= TOLERANCE_S, (episode.intro, intro)
        assert abs(intro.end_s - episode.intro[1]) <= TOLERANCE_S, (episode.intro, intro)
    assert public_detect_intros is detect_intros


def test_credits_are_the_shared_stretch_that_closes_every_episode(tmp_path: Path) -> None:
    season = make_season(
        tmp_path, offsets=(13.37, 0.0, 33.01), durations=(70.0, 85.0, 80.0), credits_s=10.0
    )
    markers = detect_markers([e.path for e in season])
    for episode, marks in zip(season, markers, strict=True):
        assert marks.intro is not None and marks.credits is not None
        assert episode.intro is not None and episode.credits is not None
        assert abs(marks.intro.start_s - episode.intro[0]) <= TOLERANCE_S
        assert abs(marks.intro.end_s - episode.intro[1]) <= TOLERANCE_S
        assert abs(marks.credits.start_s - episode.credits[0]) <= TOLERANCE_S
        assert abs(marks.credits.end_s - episode.duration_s) <= TOLERANCE_S


def test_an_intro_played_louder_or_softer_or_under_a_line_of_dialogue_is_one_intro(
    tmp_path: Path,
) -> None:
    intro = theme(7, 30.0)
    truth, paths = [], []
    for n, (offset, gain, spoken) in enumerate(
        ((3.0, 1.0, False), (61.31, 0.4, True), (120.77, 1.3, False))
    ):
        audio = body(100 + n, 200.0)
        piece = intro * gain
        if spoken:  # 3 s of something else over the middle of the theme
            at = 12 * SEASON_RATE
            piece[at : at + 3 * SEASON_RATE] += body(999, 3.0)
        start = round(offset * SEASON_RATE)
        audio[start : start + piece.size] = piece
        paths.append(write_wav(tmp_path / f"e{n}.wav", audio))
        truth.append((offset, offset + 30.0))
    for (start_s, end_s), found in zip(truth, detect_intros(paths), strict=True):
        assert found is not None
        assert abs(found.start_s - start_s) <= TOLERANCE_S, (start_s, found)
        assert abs(found.end_s - end_s) <= TOLERANCE_S, (end_s, found)


def test_episodes_without_a_shared_stretch_have_no_intro(tmp_path: Path) -> None:
    season = make_season(tmp_path, offsets=(None, None, None), aac=False)
    assert detect_intros([e.path for e in season]) == [None, None, None]


def test_an_intro_missing_from_one_episode_is_no_intro_of_the_season(tmp_path: Path) -> None:
    season = make_season(tmp_path, offsets=(5.0, None, 30.0), aac=False)
    assert detect_intros([e.path for e in season]) == [None, None, None]


def test_a_pilot_without_the_intro_leaves_the_rest_of_the_season_theirs(tmp_path: Path) -> None:
    season = make_season(
        tmp_path, offsets=(None, 10.0, 25.03, 4.51), durations=(60.0, 70.0, 80.0, 75.0)
    )
    found = detect_intros([e.path for e in season])
    assert found[0] is None
    for episode, intro in zip(season[1:], found[1:], strict=True):
        assert intro is not None and episode.intro is not None
        assert abs(intro.start_s - episode.intro[0]) <= TOLERANCE_S, (episode.intro, intro)
        assert abs(intro.end_s - episode.intro[1]) <= TOLERANCE_S, (episode.intro, intro)


def test_a_single_episode_or_none_has_no_intro(tmp_path: Path) -> None:
    season = make_season(tmp_path, offsets=(10.0,), durations=(60.0,), aac=False)
    assert detect_intros([season[0].path]) == [None]
    assert detect_intros([]) == []


def test_silence_shared_by_every_episode_is_not_an_intro() -> None:
    rng = np.random.default_rng(3)
    episodes = []
    for n in range(3):
        audio = (rng.standard_normal(RATE * 40) * 0.1).astype(np.float32)
        audio[RATE * (5 + n) : RATE * (25 + n)] = 0.0  # 20 s of digital silence in each
        episodes.append(listen(audio, phases=4 if n == 0 else 1))
    assert [m.intro for m in season_markers(episodes)] == [None, None, None]


def test_fingerprints_are_deterministic_and_short_audio_has_none() -> None:
    audio = (np.random.default_rng(1).standard_normal(RATE * 5) * 0.1).astype(np.float32)
    one, two = fingerprint(audio), fingerprint(audio.copy())
    assert one.bits.dtype == np.uint32 and np.array_equal(one.bits, two.bits)
    assert fingerprint(audio[:100]).bits.size == 0


def test_a_file_without_audio_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.m4a"
    junk.write_bytes(b"not a media file")
    with pytest.raises(IntroError, match=r"junk\.m4a"):
        detect_intros([junk, junk])
