"""The catalog's own rules, without a platform: which episode plays next in a series, and
which intro and credits markers fit together."""

from __future__ import annotations

from typing import Any

import pytest

from cinemesh.platform.errors import ApiError
from cinemesh.services.catalog.markers import check_markers, set_markers
from cinemesh.services.catalog.models import Episode, Title
from cinemesh.services.catalog.views import detail, next_episodes

VIDEO = {"asset_id": "a1", "duration_s": 600.0}


def episode(season: int, number: int, *, plays: bool = True, **markers: float) -> Episode:
    return Episode(
        id=f"show-s{season:02d}e{number:02d}",
        title_id="show",
        season=season,
        number=number,
        name=f"S{season}E{number}",
        asset=dict(VIDEO) if plays else None,
        **markers,
    )


def test_the_next_episode_follows_season_and_number_order_across_seasons() -> None:
    shuffled = [episode(2, 1), episode(1, 10), episode(1, 2), episode(3, 1), episode(1, 1)]
    assert next_episodes(shuffled) == {
        "show-s01e01": "show-s01e02",
        "show-s01e02": "show-s01e10",
        "show-s01e10": "show-s02e01",
        "show-s02e01": "show-s03e01",
        "show-s03e01": None,
    }


def test_episodes_without_a_video_are_skipped_and_the_last_playable_has_no_next() -> None:
    season = [episode(1, 1), episode(1, 2, plays=False), episode(2, 1), episode(2, 2, plays=False)]
    following = next_episodes(season)
    assert following["show-s01e01"] == "show-s02e01"
    assert following["show-s02e01"] is None


def test_the_title_detail_names_each_episodes_next_and_carries_its_markers() -> None:
    series = Title(id="show", title="Show", kind="series", maturity_rating="PG", genres=[])
    pilot = episode(1, 1, intro_start_s=30.0, intro_end_s=85.5, credits_start_s=560.0)
    seasons = detail(series, [episode(2, 1), pilot])["seasons"]
    first, second = seasons[0]["episodes"][0], seasons[1]["episodes"][0]
    assert first["next_episode_id"] == "show-s02e01" and second["next_episode_id"] is None
    assert (first["intro_start_s"], first["intro_end_s"], first["credits_start_s"]) == (
        30.0,
        85.5,
        560.0,
    )
    assert second["intro_start_s"] is None


@pytest.mark.parametrize(
    "markers",
    [
        {"intro_start_s": 10.0, "intro_end_s": 40.0, "credits_start_s": 550.0},
        {"intro_start_s": 0.0, "intro_end_s": 0.5},
        {"credits_start_s": 590.0},
        {},
    ],
)
def test_markers_that_fit_together_are_kept(markers: dict[str, float]) -> None:
    marked = episode(1, 1)
    set_markers(marked, markers)
    assert {name: getattr(marked, name) for name in markers} == markers


@pytest.mark.parametrize(
    "markers",
    [
        {"intro_start_s": 10.0},  # an intro without its end
        {"intro_end_s": 40.0},
        {"intro_start_s": 40.0, "intro_end_s": 40.0},  # empty
        {"intro_start_s": 50.0, "intro_end_s": 40.0},  # backwards
        {"intro_start_s": 10.0, "intro_end_s": 40.0, "credits_start_s": 30.0},  # inside the intro
        {"credits_start_s": 601.0},  # past the end of the 600 s video
    ],
)
def test_markers_that_do_not_fit_are_422(markers: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as refused:
        set_markers(episode(1, 1), markers)
    assert (refused.value.status, refused.value.code) == (422, "INVALID_MARKERS")


def test_markers_set_before_the_video_exists_are_not_held_to_a_length() -> None:
    unencoded = episode(1, 1, plays=False, credits_start_s=5000.0)
    check_markers(unencoded)
