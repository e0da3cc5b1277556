"""Which home rows count as recommendations for the experiments' row metrics
(contracts/rows.py): the recommender's personal rows, not trending, not the gateway's own."""

from __future__ import annotations

import pytest

from cinemesh.contracts.rows import BECAUSE_YOU_WATCHED, TOP_PICKS, is_recommendation


@pytest.mark.parametrize("row", [TOP_PICKS, f"{BECAUSE_YOU_WATCHED}tt0111161"])
def test_the_recommenders_personal_rows_are_recommendations(row: str) -> None:
    assert is_recommendation(row)


@pytest.mark.parametrize(
    "row",
    [
        "trending",
        "trending:Drama",
        "continue-watching",
        "my-list",
        "popular",
        "genre:Drama",
        "top-picks-of-the-week",
        "",
        None,
    ],
)
def test_other_rows_and_no_row_are_not(row: str | None) -> None:
    assert not is_recommendation(row)
