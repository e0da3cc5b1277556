"""/api/v1/admin/titles: catalog administration (admin role only)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import Field

from cinemesh.contracts.maturity import Rating as MaturityRating
from cinemesh.platform.bodies import RequestBody
from cinemesh.platform.errors import error_codes
from cinemesh.services.gateway.core import Gateway, relay
from cinemesh.services.gateway.deps import AdminMember, GatewayDep
from cinemesh.services.gateway.links import admin_title_uses, link, links
from cinemesh.services.gateway.routes.catalog import title_id_path

PLAIN = r"^[^\x00-\x1f\x7f]+$"
Name = Annotated[str, Field(min_length=1, max_length=300, pattern=PLAIN)]
Genre = Annotated[str, Field(min_length=1, max_length=40, pattern=PLAIN)]
Person = Annotated[str, Field(min_length=1, max_length=120, pattern=PLAIN)]
# any text but a NUL, which PostgreSQL refuses to store
Synopsis = Annotated[str, Field(max_length=4000, pattern=r"^[^\x00]*$")]
Seconds = Annotated[float, Field(ge=0, le=24 * 3600)]
EPISODE_ID = r"^[A-Za-z0-9_.:-]+$"


class Markers(RequestBody):
    """Intro and credits markers in seconds from the start of the video (null clears one):
    the player offers "Skip intro" inside the intro and counts down to the next episode from
    the credits. The catalog checks that they fit together (422 INVALID_MARKERS)."""

    intro_start_s: Seconds | None = None
    intro_end_s: Seconds | None = None
    credits_start_s: Seconds | None = None


class TitleCreate(Markers):
    title: Name
    kind: Literal["movie", "series"]
    genres: list[Genre] = Field(default_factory=list, max_length=10)
    year: int | None = Field(None, ge=1870, le=2100)
    maturity_rating: MaturityRating = "PG-13"
    synopsis: Synopsis = ""
    runtime_min: int | None = Field(None, ge=1, le=1000)
    cast: list[Person] = Field(default_factory=list, max_length=50)
    crew: list[Person] = Field(default_factory=list, max_length=50)
    popularity: float = Field(0.0, ge=0, le=1e9)
    available: bool = True


class TitleUpdate(Markers):
    title: Name | None = None
    genres: list[Genre] | None = Field(None, max_length=10)
    year: int | None = Field(None, ge=1870, le=2100)
    maturity_rating: MaturityRating | None = None
    synopsis: Synopsis | None = None
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
    synopsis: Synopsis = ""


class EpisodeUpdate(Markers):
    name: Name | None = None
    runtime_min: int | None = Field(None, ge=1, le=1000)
    synopsis: Synopsis | None = None


router = APIRouter(prefix="/api/v1/admin/titles", tags=["admin"])
# the markers' rules (Markers' docstring) are more than JSON Schema says
MARKER_CODES = error_codes(
    422,
    {
        "INVALID_REQUEST": "a field is missing or breaks the schema",
        "INVALID_MARKERS": "the intro and credits markers do not fit together or in the video",
    },
)


async def to_catalog(
    gateway: Gateway, request: Request, method: str, path: str, json: Any = None
) -> Response:
    return relay(await gateway.call("catalog", method, path, request=request, json=json))


@router.post(
    "",
    status_code=201,
    responses={**MARKER_CODES, **links(201, admin_title_uses("$response.body#/id"))},
)
async def create_title(
    body: TitleCreate, request: Request, gateway: GatewayDep, _admin: AdminMember
) -> Response:
    """A new title → `{id, ...}`; search finds it moments later."""
    return await to_catalog(gateway, request, "POST", "/v1/titles", body.model_dump())


@router.patch(
    "/{title_id}",
    responses={**MARKER_CODES, **links(200, admin_title_uses("$response.body#/id"))},
)
async def update_title(
    body: TitleUpdate,
    request: Request,
    gateway: GatewayDep,
    _admin: AdminMember,
    title_id: str = title_id_path(),
) -> Response:
    changes = body.model_dump(exclude_unset=True)
    return await to_catalog(gateway, request, "PATCH", f"/v1/titles/{title_id}", changes)


@router.delete("/{title_id}", status_code=204)
async def delete_title(
    request: Request, gateway: GatewayDep, _admin: AdminMember, title_id: str = title_id_path()
) -> Response:
    return await to_catalog(gateway, request, "DELETE", f"/v1/titles/{title_id}")


@router.post(
    "/{title_id}/episodes",
    status_code=201,
    responses=MARKER_CODES
    | links(
        201,
        {
            "UploadEpisodeMedia": link(
                "POST /api/v1/admin/titles/{title_id}/media",
                {
                    "path.title_id": "$request.path.title_id",
                    "query.episode_id": "$response.body#/id",
                },
            )
        },
    ),
)
async def add_episode(
    body: EpisodeCreate,
    request: Request,
    gateway: GatewayDep,
    _admin: AdminMember,
    title_id: str = title_id_path(),
) -> Response:
    path = f"/v1/titles/{title_id}/episodes"
    return await to_catalog(gateway, request, "POST", path, body.model_dump())


@router.patch("/{title_id}/episodes/{episode_id}", responses=MARKER_CODES)
async def update_episode(
    body: EpisodeUpdate,
    request: Request,
    gateway: GatewayDep,
    _admin: AdminMember,
    title_id: str = title_id_path(),
    episode_id: str = Path(min_length=1, max_length=80, pattern=EPISODE_ID),
) -> Response:
    """Change an episode's name, synopsis, runtime or intro and credits markers."""
    path = f"/v1/titles/{title_id}/episodes/{episode_id}"
    return await to_catalog(gateway, request, "PATCH", path, body.model_dump(exclude_unset=True))
