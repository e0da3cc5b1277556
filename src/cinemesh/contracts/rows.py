"""Home rows by id, where more than one service reads them: the recommender names its rows,
the gateway puts them on the home page, the player carries the id of the row a play was
started from, and experiments counts the starts that came from a recommendation."""

from __future__ import annotations

TOP_PICKS = "top-picks"
BECAUSE_YOU_WATCHED = "because-you-watched:"  # followed by the title it is about
TRENDING = "trending"  # alone, or followed by ":" and a genre
# a row id the player may carry: printable text, no control characters
ROW_ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
ROW_ID_MAX = 160


def is_recommendation(row_id: str | None) -> bool:
    """A row the recommender chose for the member: its top picks and its "because you
    watched" rows; not trending, and not the gateway's own (continue watching, my list,
    popular, a genre)."""
    return bool(row_id) and (row_id == TOP_PICKS or str(row_id).startswith(BECAUSE_YOU_WATCHED))
