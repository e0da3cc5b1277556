"""history's API (`/v1/profiles`): continue watching, watched titles, a title's resume point."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam

from cinemesh.platform.auth import Principal
from cinemesh.platform.db import Database
from cinemesh.platform.deps import Db, Who, provided
from cinemesh.platform.errors import not_found
from cinemesh.services.history import service as seen
from cinemesh.services.history.service import History, KeptPositions, Seen, Views, of_account

ProfileId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
TitleId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
HistoryDep = Annotated[History, provided(History)]
Kept = Annotated[KeptPositions, provided(KeptPositions)]
router = APIRouter(prefix="/v1/profiles")


async def views_of(
    db: Database, history: History, kept: KeptPositions, profile_id: str, who: Principal
) -> Views:
    async def read() -> Seen:
        async with db.session() as session:
            return await history.views(session, profile_id=profile_id)

    return of_account(await kept.positions.read_through(profile_id, read), who.account_id)


def answer(body: dict[str, Any]) -> Response:
    """JSON made here: the views are plain values already, FastAPI's encoding adds nothing."""
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/{profile_id}/continue-watching", response_model=dict[str, Any])
async def continue_watching(
    profile_id: ProfileId,
    who: Who,
    db: Db,
    history: HistoryDep,
    kept: Kept,
    up_next: bool = Query(False, description="keep series whose last episode was finished"),
) -> Response:
    views = await views_of(db, history, kept, profile_id, who)
    return answer({"items": seen.continue_watching(views, up_next=up_next)})


@router.get("/{profile_id}/watched", response_model=dict[str, Any])
async def watched(
    profile_id: ProfileId, who: Who, db: Db, history: HistoryDep, kept: Kept
) -> Response:
    return answer({"items": seen.watched(await views_of(db, history, kept, profile_id, who))})


@router.get("/{profile_id}/progress/{title_id}")
async def progress(
    profile_id: ProfileId,
    title_id: TitleId,
    who: Who,
    db: Db,
    history: HistoryDep,
    kept: Kept,
    episode_id: str | None = Query(
        None, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$"
    ),
) -> dict[str, Any]:
    views = await views_of(db, history, kept, profile_id, who)
    found = seen.progress(views, title_id=title_id, episode_id=episode_id)
    if found is None:
        raise not_found("progress")
    return found
