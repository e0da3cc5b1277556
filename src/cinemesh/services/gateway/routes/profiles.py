"""/api/v1/profiles: who is watching, My List and thumbs (profiles behind it). The profiles
service itself answers 404 for another account's profile."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from cinemesh.contracts.maturity import Rating as MaturityRating
from cinemesh.platform.bodies import RequestBody
from cinemesh.services.gateway.core import Gateway, relay
from cinemesh.services.gateway.deps import GatewayDep, Member
from cinemesh.services.gateway.links import link, links, profile_uses, title_uses

ProfileId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
TitleId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
# printable, and not only spaces
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$",
    ),
]
Avatar = Annotated[str, Field(max_length=40, pattern=r"^[a-z0-9-]*$")]
Language = Annotated[str, Field(max_length=16, pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]


class ProfileCreate(RequestBody):
    name: Name
    kids: bool = False
    maturity: MaturityRating | None = None
    avatar: Avatar = "red"
    language: Language = "en"
    audio_language: Language | None = None
    subtitle_language: Language | None = None
    autoplay_next_episode: bool = Field(
        True, description="at an episode's credits, count down to the next one and start it"
    )


class ProfileUpdate(RequestBody):
    name: Name | None = None
    kids: bool | None = None
    maturity: MaturityRating | None = None
    avatar: Avatar | None = None
    language: Language | None = None
    audio_language: Language | None = Field(
        None, description="the audio the player picks when a title has it; null: the title's"
    )
    subtitle_language: Language | None = Field(
        None, description="the subtitles the player shows when a title has them; null: off"
    )
    autoplay_next_episode: bool | None = None


class ProfileOut(BaseModel):
    id: str
    account_id: str
    name: str
    kids: bool
    maturity: MaturityRating
    avatar: str
    language: str
    audio_language: str | None = None
    subtitle_language: str | None = None
    autoplay_next_episode: bool = True


class ProfileList(BaseModel):
    items: list[ProfileOut]


class ListItem(BaseModel):
    title_id: str
    added_at: datetime


class MyList(BaseModel):
    items: list[ListItem]


class ListChange(BaseModel):
    title_id: str
    in_list: bool


class RatingBody(RequestBody):
    rating: Literal["up", "down", "none"]


class RatingOut(BaseModel):
    title_id: str
    rating: Literal["up", "down", "none"]


router = APIRouter(prefix="/api/v1/profiles", tags=["profiles"])


def list_item_uses(title_id: str) -> dict[str, dict[str, Any]]:
    """What follows a title found in the list of the profile in the request's path."""
    both = {"path.profile_id": "$request.path.profile_id", "path.title_id": title_id}
    return {
        **title_uses(title_id),
        "GetMyList": link(
            "GET /api/v1/profiles/{profile_id}/my-list",
            {"path.profile_id": "$request.path.profile_id"},
        ),
        "RemoveFromMyList": link("DELETE /api/v1/profiles/{profile_id}/my-list/{title_id}", both),
        "RateTitle": link("PUT /api/v1/profiles/{profile_id}/ratings/{title_id}", both),
    }


async def to_profiles(
    gateway: Gateway, request: Request, method: str, path: str, json: object = None
) -> Response:
    return relay(await gateway.call("profiles", method, path, request=request, json=json))


@router.get(
    "", response_model=ProfileList, responses=links(200, profile_uses("$response.body#/items/0/id"))
)
async def list_profiles(request: Request, gateway: GatewayDep, _who: Member) -> Response:
    return await to_profiles(gateway, request, "GET", "/v1/profiles")


@router.post(
    "",
    status_code=201,
    response_model=ProfileOut,
    responses=links(
        201,
        profile_uses("$response.body#/id"),
        {
            "DeleteProfile": link(
                "DELETE /api/v1/profiles/{profile_id}", {"path.profile_id": "$response.body#/id"}
            )
        },
    ),
)
async def create_profile(
    body: ProfileCreate, request: Request, gateway: GatewayDep, _who: Member
) -> Response:
    """At most five profiles an account (409 PROFILE_LIMIT); kids profiles see kids titles only."""
    return await to_profiles(
        gateway, request, "POST", "/v1/profiles", body.model_dump(exclude_none=True)
    )


@router.get(
    "/{profile_id}",
    response_model=ProfileOut,
    responses=links(200, profile_uses("$response.body#/id")),
)
async def get_profile(
    request: Request, gateway: GatewayDep, _who: Member, profile_id: str = ProfileId
) -> Response:
    return await to_profiles(gateway, request, "GET", f"/v1/profiles/{profile_id}")


@router.patch(
    "/{profile_id}",
    response_model=ProfileOut,
    responses=links(200, profile_uses("$response.body#/id")),
)
async def update_profile(
    body: ProfileUpdate,
    request: Request,
    gateway: GatewayDep,
    who: Member,
    profile_id: str = ProfileId,
) -> Response:
    gateway.forget_profile(who, profile_id)
    return await to_profiles(
        gateway,
        request,
        "PATCH",
        f"/v1/profiles/{profile_id}",
        body.model_dump(exclude_unset=True),
    )


@router.delete("/{profile_id}", status_code=204)
async def delete_profile(
    request: Request, gateway: GatewayDep, who: Member, profile_id: str = ProfileId
) -> Response:
    gateway.forget_profile(who, profile_id)
    return await to_profiles(gateway, request, "DELETE", f"/v1/profiles/{profile_id}")


@router.get(
    "/{profile_id}/my-list",
    response_model=MyList,
    responses=links(200, list_item_uses("$response.body#/items/0/title_id")),
)
async def my_list(
    request: Request,
    gateway: GatewayDep,
    _who: Member,
    profile_id: str = ProfileId,
    limit: int = Query(200, ge=1, le=1000),
) -> Response:
    """The profile's list, most recently added first."""
    return relay(
        await gateway.call(
            "profiles",
            "GET",
            f"/v1/profiles/{profile_id}/my-list",
            request=request,
            params={"limit": limit},
        )
    )


@router.put(
    "/{profile_id}/my-list/{title_id}",
    response_model=ListChange,
    responses=links(200, list_item_uses("$response.body#/title_id")),
)
async def add_to_list(
    request: Request,
    gateway: GatewayDep,
    _who: Member,
    profile_id: str = ProfileId,
    title_id: str = TitleId,
) -> Response:
    path = f"/v1/profiles/{profile_id}/my-list/{title_id}"
    return await to_profiles(gateway, request, "PUT", path)


@router.delete("/{profile_id}/my-list/{title_id}", response_model=ListChange)
async def remove_from_list(
    request: Request,
    gateway: GatewayDep,
    _who: Member,
    profile_id: str = ProfileId,
    title_id: str = TitleId,
) -> Response:
    path = f"/v1/profiles/{profile_id}/my-list/{title_id}"
    return await to_profiles(gateway, request, "DELETE", path)


@router.put(
    "/{profile_id}/ratings/{title_id}",
    response_model=RatingOut,
    responses=links(200, title_uses("$response.body#/title_id")),
)
async def rate(
    body: RatingBody,
    request: Request,
    gateway: GatewayDep,
    _who: Member,
    profile_id: str = ProfileId,
    title_id: str = TitleId,
) -> Response:
    """Thumbs up or down (`none` clears it)."""
    path = f"/v1/profiles/{profile_id}/ratings/{title_id}"
    return await to_profiles(gateway, request, "PUT", path, body.model_dump())
