"""history: viewing progress per profile, continue watching, watched titles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi import Path as PathParam
from pydantic_settings import SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.playback import PlaybackProgress, PlaybackStopped
from cinemesh.contracts.profiles import ProfileDeleted
from cinemesh.platform.auth import Principal
from cinemesh.platform.errors import not_found
from cinemesh.platform.events import Event
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import ServiceSettings, load_settings
from cinemesh.services.history.service import History

MIGRATIONS = Path(__file__).parent / "migrations"
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

    @runtime.consume("playback.*")
    async def on_playback(session: AsyncSession, event: Event) -> None:
        if event.type in (PlaybackProgress.TYPE, PlaybackStopped.TYPE):
            await history.record(session, PlaybackProgress.model_validate(event.data))

    @runtime.consume(ProfileDeleted.TYPE)
    async def forget_profile(session: AsyncSession, event: Event) -> None:
        await history.forget(
            session, profile_id=ProfileDeleted.model_validate(event.data).profile_id
        )

    router = APIRouter(prefix="/v1/profiles")
    who_dep = Depends(runtime.principal)

    @router.get("/{profile_id}/continue-watching")
    async def continue_watching(
        profile_id: str = ProfileId, who: Principal = who_dep
    ) -> dict[str, Any]:
        async with db.session() as session:
            return {
                "items": await history.continue_watching(
                    session, account_id=who.account_id, profile_id=profile_id
                )
            }

    @router.get("/{profile_id}/watched")
    async def watched(profile_id: str = ProfileId, who: Principal = who_dep) -> dict[str, Any]:
        async with db.session() as session:
            return {
                "items": await history.watched(
                    session, account_id=who.account_id, profile_id=profile_id
                )
            }

    @router.get("/{profile_id}/progress/{title_id}")
    async def progress(
        profile_id: str = ProfileId,
        title_id: str = TitleId,
        episode_id: str | None = Query(
            None, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$"
        ),
        who: Principal = who_dep,
    ) -> dict[str, Any]:
        async with db.session() as session:
            found = await history.progress(
                session,
                account_id=who.account_id,
                profile_id=profile_id,
                title_id=title_id,
                episode_id=episode_id,
            )
        if found is None:
            raise not_found("progress")
        return found

    return runtime.build_app(router)
