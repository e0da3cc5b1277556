"""playback: entitlement, stream leases and signed manifest URLs; heartbeats and stop become
events that history and the recommender learn from."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.catalog import TitleDeleted, TitleUpserted
from cinemesh.contracts.media import AssetReady
from cinemesh.contracts.profiles import ProfileDeleted, ProfileUpserted
from cinemesh.contracts.signed_urls import load_edge_key
from cinemesh.platform.auth import Principal, bearer_token
from cinemesh.platform.errors import ApiError, not_found
from cinemesh.platform.events import Event
from cinemesh.platform.http import ServiceUnavailable
from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import ServiceSettings, load_settings
from cinemesh.services.playback.models import KnownProfile, PlayableTitle, ReadyAsset
from cinemesh.services.playback.service import Playback, Viewer

MIGRATIONS = Path(__file__).parent / "migrations"
log = logger("cinemesh.playback")
Id = PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class PlaybackSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_PLAYBACK_", extra="ignore")

    lease_s: float = Field(60.0, ge=1, le=3600)
    manifest_ttl_s: int = Field(6 * 3600, ge=60, le=7 * 24 * 3600)
    edge_urls: list[str] = []  # at scale: the public edge addresses, best first
    resume_deadline_s: float = 0.25


class EdgeKeySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_", extra="ignore")

    edge_key: str = ""


class StartRequest(BaseModel):
    profile_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    title_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    episode_id: str | None = Field(None, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$")
    session_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")  # makes retries safe


class Heartbeat(BaseModel):
    position_s: float = Field(ge=0, le=24 * 3600)


def create_app() -> FastAPI:
    settings = load_settings(PlaybackSettings)
    runtime = ServiceRuntime(
        "playback", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    playback = Playback(
        stage=runtime.stage,
        edge_key=load_edge_key(runtime.data_dir, load_settings(EdgeKeySettings).edge_key),
        lease=timedelta(seconds=settings.lease_s),
        manifest_ttl_s=settings.manifest_ttl_s,
    )
    db = runtime.db
    assert db is not None

    @runtime.consume(TitleUpserted.TYPE)
    async def learn_title(session: AsyncSession, event: Event) -> None:
        title = TitleUpserted.model_validate(event.data)
        row = await session.get(PlayableTitle, title.title_id)
        if row is None:
            session.add(
                PlayableTitle(title_id=title.title_id, maturity_rating=title.maturity_rating)
            )
        else:
            row.maturity_rating = title.maturity_rating

    @runtime.consume(TitleDeleted.TYPE)
    async def forget_title(session: AsyncSession, event: Event) -> None:
        title_id = TitleDeleted.model_validate(event.data).title_id
        await session.execute(delete(ReadyAsset).where(ReadyAsset.title_id == title_id))
        await session.execute(delete(PlayableTitle).where(PlayableTitle.title_id == title_id))

    @runtime.consume(AssetReady.TYPE)
    async def learn_asset(session: AsyncSession, event: Event) -> None:
        ready = AssetReady.model_validate(event.data)
        key = (ready.title_id, ready.episode_id or "")
        row = await session.get(ReadyAsset, key)
        renditions = [r.model_dump() for r in ready.renditions]
        if row is None:
            session.add(
                ReadyAsset(
                    title_id=key[0],
                    episode_id=key[1],
                    asset_id=ready.asset_id,
                    duration_s=ready.duration_s,
                    renditions=renditions,
                )
            )
        else:
            row.asset_id, row.duration_s, row.renditions = (
                ready.asset_id,
                ready.duration_s,
                renditions,
            )

    @runtime.consume("profiles.profile.*")
    async def learn_profile(session: AsyncSession, event: Event) -> None:
        if event.type == ProfileDeleted.TYPE:
            gone = await session.get(
                KnownProfile, ProfileDeleted.model_validate(event.data).profile_id
            )
            if gone is not None:
                await session.delete(gone)
            return
        if event.type != ProfileUpserted.TYPE:
            return
        profile = ProfileUpserted.model_validate(event.data)
        row = await session.get(KnownProfile, profile.profile_id)
        if row is None:
            session.add(
                KnownProfile(
                    profile_id=profile.profile_id,
                    account_id=profile.account_id,
                    maturity=profile.maturity,
                )
            )
        else:
            row.account_id, row.maturity = profile.account_id, profile.maturity

    async def edge_urls() -> list[str]:
        if settings.edge_urls:
            return settings.edge_urls
        try:
            instances = await runtime.discovery.instances("edge")
        except Exception as exc:  # the registry is down: no edges to offer, said as a 503
            log.warning("edge discovery failed", error=str(exc) or type(exc).__name__)
            return []
        return [inst.url for inst in instances]

    async def viewer_of(request: Request, who: Principal, profile_id: str) -> Viewer:
        """The profile from playback's own view (profiles' events); a profile created a moment
        ago whose event has not arrived yet is asked of the profiles service once."""
        async with db.session() as session:
            known = await session.get(KnownProfile, profile_id)
        if known is not None:
            if known.account_id != who.account_id:
                raise not_found("profile")
            return Viewer(profile_id, known.account_id, known.maturity)
        headers = {"Authorization": f"Bearer {bearer_token(request)}"}
        try:
            answer = await runtime.clients("profiles").request(
                "GET", f"/v1/profiles/{profile_id}", headers=headers, timeout_s=0.5
            )
        except ServiceUnavailable:
            raise ApiError(
                503,
                "PROFILES_UNAVAILABLE",
                "this profile is not known yet and profiles are unavailable; try again shortly",
                headers={"Retry-After": "5"},
            ) from None
        if answer.status != 200:
            raise not_found("profile")
        body: dict[str, Any] = answer.json()
        return Viewer(profile_id, who.account_id, str(body.get("maturity") or "NC-17"))

    async def resume_point(
        request: Request, profile_id: str, title_id: str, episode_id: str | None
    ) -> float:
        """Where the profile left off; 0 when history cannot say in time."""
        params = {"episode_id": episode_id} if episode_id else None
        try:
            answer = await runtime.clients("history").request(
                "GET",
                f"/v1/profiles/{profile_id}/progress/{title_id}",
                params=params,
                headers={"Authorization": f"Bearer {bearer_token(request)}"},
                timeout_s=settings.resume_deadline_s,
                idempotent=True,
            )
        except ServiceUnavailable:
            return 0.0
        if answer.status != 200:
            return 0.0
        try:
            body = answer.json()
            return 0.0 if body.get("finished") else max(0.0, float(body.get("position_s") or 0))
        except (ValueError, TypeError, AttributeError):
            return 0.0

    router = APIRouter(prefix="/v1/sessions")
    who_dep = Depends(runtime.principal)

    @router.post("", status_code=201)
    async def start(
        body: StartRequest, request: Request, who: Principal = who_dep
    ) -> dict[str, Any]:
        viewer = await viewer_of(request, who, body.profile_id)
        resume = await resume_point(request, body.profile_id, body.title_id, body.episode_id)
        urls = await edge_urls()
        async with db.session() as session:
            started = await playback.start(
                session,
                who=who,
                viewer=viewer,
                title_id=body.title_id,
                episode_id=body.episode_id,
                edge_urls=urls,
                edges_configured=bool(settings.edge_urls),
                resume_s=resume,
                session_id=body.session_id,
            )
            await session.commit()
        return started

    @router.post("/{session_id}/heartbeat")
    async def heartbeat(
        body: Heartbeat, session_id: str = Id, who: Principal = who_dep
    ) -> dict[str, Any]:
        async with db.session() as session:
            beat = await playback.heartbeat(
                session, who=who, session_id=session_id, position_s=body.position_s
            )
            await session.commit()
        return beat

    @router.delete("/{session_id}", status_code=204)
    async def stop(session_id: str = Id, who: Principal = who_dep) -> None:
        async with db.session() as session:
            await playback.stop(session, who=who, session_id=session_id)
            await session.commit()

    return runtime.build_app(router)
