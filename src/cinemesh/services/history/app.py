"""history: viewing progress per profile, continue watching, watched titles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Response
from fastapi import Path as PathParam
from pydantic_settings import SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.notices import POSITIONS_CHANGED
from cinemesh.contracts.playback import PlaybackProgress, PlaybackStopped
from cinemesh.contracts.profiles import ProfileDeleted
from cinemesh.platform.auth import Principal
from cinemesh.platform.errors import not_found
from cinemesh.platform.events import Event
from cinemesh.platform.kept import KeptReads
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import ServiceSettings, load_settings
from cinemesh.services.history import service as seen
from cinemesh.services.history.service import History, Seen, Views, of_account

MIGRATIONS = Path(__file__).parent / "migrations"
CHANGES_POSITIONS = (PlaybackProgress.TYPE, PlaybackStopped.TYPE, ProfileDeleted.TYPE)
ProfileId = PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
TitleId = PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class HistorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_HISTORY_", extra="ignore")


def create_app() -> FastAPI:
    settings = load_settings(HistorySettings)
    runtime = ServiceRuntime(
        "history", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    history = History(stage=runtime.stage)
    db = runtime.db
    assert db is not None

    # Every home page asks for continue watching, and a profile's positions change only when
    # one of its events is handled: each instance keeps the positions it read until the
    # instance that handled such an event says so (platform/kept.py).
    positions: KeptReads[Seen] = runtime.kept_reads(
        POSITIONS_CHANGED, max_age_s=settings.kept_reads_s
    )

    async def positions_changed(event: Event) -> None:
        if event.type in CHANGES_POSITIONS:
            await runtime.changed(POSITIONS_CHANGED, [str(event.data["profile_id"])])

    @runtime.consume("playback.*", then=positions_changed)
    async def on_playback(session: AsyncSession, event: Event) -> None:
        if event.type in (PlaybackProgress.TYPE, PlaybackStopped.TYPE):
            await history.record(session, PlaybackProgress.model_validate(event.data))

    @runtime.consume(ProfileDeleted.TYPE, then=positions_changed)
    async def forget_profile(session: AsyncSession, event: Event) -> None:
        await history.forget(
            session, profile_id=ProfileDeleted.model_validate(event.data).profile_id
        )

    async def views_of(profile_id: str, who: Principal) -> Views:
        async def read() -> Seen:
            async with db.session() as session:
                return await history.views(session, profile_id=profile_id)

        return of_account(await positions.read_through(profile_id, read), who.account_id)

    router = APIRouter(prefix="/v1/profiles")
    who_dep = Depends(runtime.principal)

    @router.get("/{profile_id}/continue-watching", response_model=dict[str, Any])
    async def continue_watching(profile_id: str = ProfileId, who: Principal = who_dep) -> Response:
        return answer({"items": seen.continue_watching(await views_of(profile_id, who))})

    @router.get("/{profile_id}/watched", response_model=dict[str, Any])
    async def watched(profile_id: str = ProfileId, who: Principal = who_dep) -> Response:
        return answer({"items": seen.watched(await views_of(profile_id, who))})

    @router.get("/{profile_id}/progress/{title_id}")
    async def progress(
        profile_id: str = ProfileId,
        title_id: str = TitleId,
        episode_id: str | None = Query(
            None, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$"
        ),
        who: Principal = who_dep,
    ) -> dict[str, Any]:
        found = seen.progress(
            await views_of(profile_id, who), title_id=title_id, episode_id=episode_id
        )
        if found is None:
            raise not_found("progress")
        return found

    return runtime.build_app(router)


def answer(body: dict[str, Any]) -> Response:
    """JSON made here: the views are plain values already, FastAPI's encoding adds nothing."""
    return Response(orjson.dumps(body), media_type="application/json")
