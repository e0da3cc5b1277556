"""catalog's API payloads."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cinemesh.contracts.maturity import Rating as MaturityRating
from cinemesh.platform.bodies import RequestBody

PLAIN = r"^[^\x00-\x1f\x7f]+$"
ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
Text = Annotated[str, Field(max_length=4000)]
Name = Annotated[str, Field(min_length=1, max_length=300, pattern=PLAIN)]
Genre = Annotated[str, Field(min_length=1, max_length=40, pattern=PLAIN)]
Person = Annotated[str, Field(min_length=1, max_length=120, pattern=PLAIN)]
TitleId = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
Seconds = Annotated[float, Field(ge=0, le=24 * 3600)]


class Markers(RequestBody):
    """Intro and credits markers in seconds from the start of the video; null clears one."""

    intro_start_s: Seconds | None = None
    intro_end_s: Seconds | None = None
    credits_start_s: Seconds | None = None


class TitleCreate(Markers):
    title: Name
    kind: Literal["movie", "series"]
    genres: list[Genre] = Field(default_factory=list, max_length=10)
    year: int | None = Field(None, ge=1870, le=2100)
    maturity_rating: MaturityRating = "PG-13"
    synopsis: Text = ""
    runtime_min: int | None = Field(None, ge=1, le=1000)
    cast: list[Person] = Field(default_factory=list, max_length=50)
    crew: list[Person] = Field(default_factory=list, max_length=50)
    popularity: float = Field(0.0, ge=0, le=1e9)
    available: bool = True
    id: TitleId | None = None


class TitleUpdate(Markers):
    title: Name | None = None
    genres: list[Genre] | None = Field(None, max_length=10)
    year: int | None = Field(None, ge=1870, le=2100)
    maturity_rating: MaturityRating | None = None
    synopsis: Text | None = None
    runtime_min: int | None = Field(None, ge=1, le=1000)
    cast: list[Person] | None = Field(None, max_length=50)
    crew: list[Person] | None = Field(None, max_length=50)
    popularity: float | None = Field(None, ge=0, le=1e9)
    available: bool | None = None


class EpisodeCreate(Markers):
    season: int = Field(ge=1, le=100)
    number: int = Field(ge=1, le=1000)
    name: Name
    runtime_min: int | None = Field(None, ge=1, le=1000)
    synopsis: Text = ""


class EpisodeUpdate(Markers):
    name: Name | None = None
    runtime_min: int | None = Field(None, ge=1, le=1000)
    synopsis: Text | None = None


class TitleImport(TitleCreate):
    """A title with a fixed id and, for a series, its episodes (seeding and imports)."""

    id: TitleId
    episodes: list[EpisodeCreate] = Field(default_factory=list, max_length=500)


class BatchRequest(RequestBody):
    ids: list[TitleId] = Field(max_length=200)


class BulkImport(RequestBody):
    titles: list[TitleImport] = Field(min_length=1, max_length=1000)


def artwork_urls(title_id: str) -> dict[str, str]:
    return {
        "poster_url": f"/api/v1/artwork/{title_id}/poster",
        "backdrop_url": f"/api/v1/artwork/{title_id}/backdrop",
    }
