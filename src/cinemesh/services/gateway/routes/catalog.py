"""/api/v1 titles, browse, genres and artwork (catalog behind them)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from cinemesh.contracts.maturity import ADULT_MAX, KIDS_MAX, allows
from cinemesh.platform.auth import Principal
from cinemesh.platform.errors import ApiError, not_found
from cinemesh.services.gateway.core import Gateway, relay
from cinemesh.services.gateway.deps import GatewayDep, Member
from cinemesh.services.gateway.links import links, title_uses

ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
# printable text: no control characters (PostgreSQL refuses a NUL in any text)
PLAIN = r"^[^\x00-\x1f\x7f]*$"
ArtworkKind = Literal["poster", "backdrop"]


def title_id_path() -> Any:
    return Path(min_length=1, max_length=64, pattern=ID_PATTERN)


def profile_id_query() -> Any:
    return Query(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


def profile_maturity(profile: dict[str, Any]) -> str:
    """The most mature rating a profile may see (a kids profile never more than KIDS_MAX)."""
    wanted = str(profile.get("maturity") or (KIDS_MAX if profile.get("kids") else ADULT_MAX))
    return KIDS_MAX if profile.get("kids") and not allows(KIDS_MAX, wanted) else wanted


class TitleSummary(BaseModel):
    id: str
    title: str
    kind: str
    year: int | None = None
    genres: list[str]
    maturity_rating: str
    poster_url: str
    backdrop_url: str
    playable: bool


class TitlePage(BaseModel):
    items: list[TitleSummary]
    total: int
    limit: int
    offset: int


class GenreCount(BaseModel):
    name: str
    count: int


class Genres(BaseModel):
    genres: list[GenreCount]


router = APIRouter(prefix="/api/v1", tags=["catalog"])


async def maturity_of(
    gateway: Gateway, request: Request, who: Principal, profile_id: str | None
) -> str | None:
    if not profile_id:
        return None
    return profile_maturity(await gateway.require_profile(request, who, profile_id))


async def progress(
    gateway: Gateway, request: Request, profile_id: str, title_id: str
) -> dict[str, Any] | None:
    """The profile's resume point in this title, from history; None when history is down
    or has none (the page then offers Play instead of Resume)."""
    try:
        answer = await gateway.call(
            "history",
            "GET",
            f"/v1/profiles/{profile_id}/progress/{title_id}",
            request=request,
            timeout_s=0.3,
        )
    except ApiError:
        return None
    return answer.json() if answer.status == 200 else None


@router.get("/titles/{title_id}")
async def get_title(
    request: Request,
    gateway: GatewayDep,
    who: Member,
    title_id: str = title_id_path(),
    profile_id: str | None = profile_id_query(),
) -> Any:
    """A title with its seasons and episodes; with `profile_id`, that profile's progress."""
    maturity = await maturity_of(gateway, request, who, profile_id)
    response = await gateway.call("catalog", "GET", f"/v1/titles/{title_id}", request=request)
    if response.status == 404:
        raise not_found("title")
    if response.status != 200:
        return relay(response)
    title: dict[str, Any] = response.json()
    if maturity is not None and profile_id:
        title["allowed_for_profile"] = allows(maturity, str(title.get("maturity_rating")))
        title["progress"] = await progress(gateway, request, profile_id, title_id)
    return title


@router.get(
    "/browse",
    response_model=TitlePage,
    responses=links(200, title_uses("$response.body#/items/0/id")),
)
async def browse(
    request: Request,
    gateway: GatewayDep,
    who: Member,
    genre: str | None = Query(None, max_length=40, pattern=PLAIN),
    sort: Literal["popularity", "year", "title"] = "popularity",
    limit: int = Query(40, ge=1, le=100),
    offset: int = Query(0, ge=0, le=10_000),
    profile_id: str | None = profile_id_query(),
) -> Response:
    """Titles by genre, most popular first, filtered to the profile's maturity."""
    params: dict[str, Any] = {"sort": sort, "limit": limit, "offset": offset}
    if genre and genre.strip():
        params["genre"] = genre.strip()
    maturity = await maturity_of(gateway, request, who, profile_id)
    if maturity:
        params["max_maturity"] = maturity
    return relay(await gateway.call("catalog", "GET", "/v1/titles", request=request, params=params))


@router.get("/genres", response_model=Genres)
async def genres(request: Request, gateway: GatewayDep, _who: Member) -> Response:
    return relay(await gateway.call("catalog", "GET", "/v1/genres", request=request))


async def artwork_of(gateway: Gateway, request: Request, title_id: str, kind: str) -> Response:
    return relay(
        await gateway.call(
            "catalog", "GET", f"/v1/artwork/{title_id}/{kind}.jpg", request=request, timeout_s=5
        )
    )


@router.get("/artwork/{title_id}/{kind}.jpg", response_class=Response, include_in_schema=False)
async def artwork_jpg(
    request: Request,
    gateway: GatewayDep,
    title_id: str = title_id_path(),
    kind: ArtworkKind = Path(),
) -> Response:
    return await artwork_of(gateway, request, title_id, kind)


@router.get("/artwork/{title_id}/{kind}", response_class=Response)
async def artwork(
    request: Request,
    gateway: GatewayDep,
    title_id: str = title_id_path(),
    kind: ArtworkKind = Path(),
) -> Response:
    """A title's poster or backdrop (public, cacheable)."""
    return await artwork_of(gateway, request, title_id, kind)
