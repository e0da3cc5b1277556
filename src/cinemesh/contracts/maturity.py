"""The maturity scale titles are rated on and profiles are limited by."""

from __future__ import annotations

from typing import Literal

Rating = Literal["G", "PG", "PG-13", "R", "NC-17"]
RATINGS: tuple[Rating, ...] = ("G", "PG", "PG-13", "R", "NC-17")
KIDS_MAX: Rating = "PG"
ADULT_MAX: Rating = "NC-17"


def level(rating: str) -> int:
    """0 for G up to 4 for NC-17; an unknown rating counts as the most mature."""
    try:
        return RATINGS.index(rating)  # type: ignore[arg-type]
    except ValueError:
        return len(RATINGS) - 1


def allows(profile_max: str, title_rating: str) -> bool:
    """May a profile limited to `profile_max` watch a title rated `title_rating`?"""
    return level(title_rating) <= level(profile_max)
