"""profiles' internal API (`/v1`): every route acts for the account in the caller's token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.notices import MY_LIST_CHANGED
from cinemesh.platform.db import Database
from cinemesh.platform.deps import Db, Runtime, Who, provided
from cinemesh.platform.errors import conflict, not_found
from cinemesh.platform.kept import KeptReads
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.profiles.schemas import (
    ListItem,
    ProfileCreate,
    ProfileUpdate,
    ProfileView,
    RatingBody,
    RatingView,
)
from cinemesh.services.profiles.service import (
    LIST_MAX,
    MAX_PROFILES,
    Profiles,
    SlotTaken,
    view,
)

ProfileId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
TitleId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
OwnedList = tuple[str, list[dict[str, Any]]]  # a profile's owner and its My List as JSON

ProfilesDep = Annotated[Profiles, provided(Profiles)]
KeptLists = Annotated[KeptReads[OwnedList], provided(KeptReads)]
router = APIRouter(prefix="/v1/profiles")


@asynccontextmanager
async def changing(db: Database) -> AsyncIterator[AsyncSession]:
    """One transaction; a concurrent change (say, the profile deleted meanwhile) is a 409."""
    try:
        async with db.transaction() as session:
            yield session
    except IntegrityError:
        raise conflict("CONFLICT", "the profile changed meanwhile; try again") from None


async def list_changed(runtime: ServiceRuntime, profile_id: str) -> None:
    await runtime.changed(MY_LIST_CHANGED, [profile_id])


@router.get("")
async def list_profiles(db: Db, profiles: ProfilesDep, who: Who) -> dict[str, list[ProfileView]]:
    async with db.session() as session:
        return {
            "items": [
                view(p) for p in await profiles.of_account(session, account_id=who.account_id)
            ]
        }


@router.post("", status_code=201)
async def create_profile(
    body: ProfileCreate, db: Db, profiles: ProfilesDep, who: Who
) -> ProfileView:
    for _ in range(MAX_PROFILES):  # a racing create may take the chosen slot: pick again
        try:
            async with changing(db) as session:
                profile = await profiles.create(session, account_id=who.account_id, body=body)
            return view(profile)
        except SlotTaken:
            continue
    raise conflict("CONFLICT", "profiles changed meanwhile; try again")


@router.get("/{profile_id}")
async def get_profile(
    db: Db, profiles: ProfilesDep, who: Who, profile_id: str = ProfileId
) -> ProfileView:
    async with db.session() as session:
        return view(await profiles.owned(session, account_id=who.account_id, profile_id=profile_id))


@router.patch("/{profile_id}")
async def update_profile(
    body: ProfileUpdate, db: Db, profiles: ProfilesDep, who: Who, profile_id: str = ProfileId
) -> ProfileView:
    async with changing(db) as session:
        profile = await profiles.update(
            session, account_id=who.account_id, profile_id=profile_id, body=body
        )
    return view(profile)


@router.delete("/{profile_id}", status_code=204)
async def delete_profile(
    db: Db, profiles: ProfilesDep, runtime: Runtime, who: Who, profile_id: str = ProfileId
) -> Response:
    async with changing(db) as session:
        await profiles.delete(session, account_id=who.account_id, profile_id=profile_id)
    await list_changed(runtime, profile_id)
    return Response(status_code=204)


async def read_list(db: Database, profiles: Profiles, profile_id: str) -> OwnedList:
    async with db.session() as session:
        owner, items = await profiles.my_list(session, profile_id=profile_id)
    return owner, [ListItem(**item).model_dump(mode="json") for item in items]


# Every home page asks for the list, which changes only when its owner edits it: each
# instance keeps the lists it read until a notice says one changed (platform/kept.py).
@router.get("/{profile_id}/my-list", response_model=dict[str, list[ListItem]])
async def my_list(
    db: Db,
    profiles: ProfilesDep,
    lists: KeptLists,
    who: Who,
    profile_id: str = ProfileId,
    limit: int = Query(200, ge=1, le=LIST_MAX),
) -> Response:
    owner, items = await lists.read_through(profile_id, lambda: read_list(db, profiles, profile_id))
    if owner != who.account_id:
        raise not_found("profile")
    return Response(orjson.dumps({"items": items[:limit]}), media_type="application/json")


@router.put("/{profile_id}/my-list/{title_id}")
async def add_to_list(
    db: Db,
    profiles: ProfilesDep,
    runtime: Runtime,
    who: Who,
    profile_id: str = ProfileId,
    title_id: str = TitleId,
) -> dict[str, Any]:
    async with changing(db) as session:
        profile = await profiles.owned(session, account_id=who.account_id, profile_id=profile_id)
        added = await profiles.add_to_list(session, profile=profile, title_id=title_id)
    if added:
        await list_changed(runtime, profile_id)
    return {"title_id": title_id, "in_list": True, "added": added}


@router.delete("/{profile_id}/my-list/{title_id}")
async def remove_from_list(
    db: Db,
    profiles: ProfilesDep,
    runtime: Runtime,
    who: Who,
    profile_id: str = ProfileId,
    title_id: str = TitleId,
) -> dict[str, Any]:
    async with changing(db) as session:
        profile = await profiles.owned(session, account_id=who.account_id, profile_id=profile_id)
        removed = await profiles.remove_from_list(session, profile=profile, title_id=title_id)
    if removed:
        await list_changed(runtime, profile_id)
    return {"title_id": title_id, "in_list": False, "removed": removed}


@router.put("/{profile_id}/ratings/{title_id}")
async def rate(
    body: RatingBody,
    db: Db,
    profiles: ProfilesDep,
    who: Who,
    profile_id: str = ProfileId,
    title_id: str = TitleId,
) -> dict[str, str]:
    async with changing(db) as session:
        profile = await profiles.owned(session, account_id=who.account_id, profile_id=profile_id)
        await profiles.rate(session, profile=profile, title_id=title_id, rating=body.rating)
    return {"title_id": title_id, "rating": body.rating}


@router.get("/{profile_id}/ratings")
async def ratings(
    db: Db, profiles: ProfilesDep, who: Who, profile_id: str = ProfileId
) -> dict[str, list[RatingView]]:
    async with db.session() as session:
        profile = await profiles.owned(session, account_id=who.account_id, profile_id=profile_id)
        rows = await profiles.ratings(session, profile=profile)
        return {
            "items": [
                RatingView(title_id=r.title_id, rating=r.rating, rated_at=r.rated_at) for r in rows
            ]
        }
