"""The playback domain: who may start what, stream leases per plan, progress and stop."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.identity import PLAN_MAX_HEIGHT, PLAN_STREAMS
from cinemesh.contracts.maturity import allows
from cinemesh.contracts.playback import PlaybackProgress, PlaybackStarted, PlaybackStopped
from cinemesh.contracts.signed_urls import sign
from cinemesh.platform.auth import Principal
from cinemesh.platform.errors import ApiError, forbidden, not_found
from cinemesh.platform.steering import rendezvous
from cinemesh.services.playback.models import (
    AccountStreams,
    KnownProfile,
    PlayableTitle,
    PlaybackSession,
    ReadyAsset,
)
from cinemesh.services.playback.throughput import LinkMemory

Stage = Callable[..., Awaitable[Any]]
MANIFEST_TTL_S = 6 * 3600


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ranked_edges(edge_urls: list[str], *, asset_id: str, configured: bool) -> list[str]:
    """Every edge, best first: a configured list keeps its order (nearest first); discovered
    instances are ranked by rendezvous hashing of the asset (platform/steering.py), so each
    title is steered to the edge whose cache holds it and the edges together hold far more
    distinct titles than any one. The rest follow in the same order, for the player's
    failover."""
    if configured or len(edge_urls) < 2:
        return list(edge_urls)
    return rendezvous(asset_id, edge_urls)


@dataclass(frozen=True)
class Viewer:
    """Who presses play: the profile and what it may watch."""

    profile_id: str
    account_id: str
    maturity: str


@dataclass
class Playback:
    stage: Stage
    edge_key: bytes
    lease: timedelta
    manifest_ttl_s: int = MANIFEST_TTL_S
    links: LinkMemory = field(default_factory=LinkMemory)

    async def learn_title(
        self, session: AsyncSession, *, title_id: str, maturity_rating: str
    ) -> None:
        """A title's maturity, learnt from catalog's events: what a profile may play."""
        row = await session.get(PlayableTitle, title_id)
        if row is None:
            session.add(PlayableTitle(title_id=title_id, maturity_rating=maturity_rating))
        else:
            row.maturity_rating = maturity_rating

    async def forget_title(self, session: AsyncSession, title_id: str) -> None:
        """A deleted title is no longer playable, nor are its assets."""
        await session.execute(delete(ReadyAsset).where(ReadyAsset.title_id == title_id))
        await session.execute(delete(PlayableTitle).where(PlayableTitle.title_id == title_id))

    async def learn_asset(
        self,
        session: AsyncSession,
        *,
        title_id: str,
        episode_id: str | None,
        asset_id: str,
        duration_s: float,
        renditions: list[dict[str, Any]],
    ) -> None:
        """The video that plays a title or episode, learnt from media's `AssetReady`."""
        key = (title_id, episode_id or "")
        row = await session.get(ReadyAsset, key)
        if row is None:
            session.add(
                ReadyAsset(
                    title_id=key[0],
                    episode_id=key[1],
                    asset_id=asset_id,
                    duration_s=duration_s,
                    renditions=renditions,
                )
            )
        else:
            row.asset_id, row.duration_s, row.renditions = asset_id, duration_s, renditions

    async def learn_profile(
        self, session: AsyncSession, *, profile_id: str, account_id: str, maturity: str
    ) -> None:
        row = await session.get(KnownProfile, profile_id)
        if row is None:
            session.add(
                KnownProfile(profile_id=profile_id, account_id=account_id, maturity=maturity)
            )
        else:
            row.account_id, row.maturity = account_id, maturity

    async def forget_profile(self, session: AsyncSession, profile_id: str) -> None:
        gone = await session.get(KnownProfile, profile_id)
        if gone is not None:
            await session.delete(gone)

    async def known_viewer(self, session: AsyncSession, profile_id: str) -> Viewer | None:
        """The profile as playback's own view knows it (from profiles' events), if it does."""
        known = await session.get(KnownProfile, profile_id)
        if known is None:
            return None
        return Viewer(profile_id, known.account_id, known.maturity)

    async def start(
        self,
        session: AsyncSession,
        *,
        who: Principal,
        viewer: Viewer,
        title_id: str,
        episode_id: str | None,
        edge_urls: list[str],
        edges_configured: bool,
        resume_s: float,
        session_id: str | None = None,
        device: str = "",
        row: str | None = None,
    ) -> dict[str, Any]:
        """Check entitlement, take a stream lease, and hand out a signed, capped manifest.

        A caller-chosen `session_id` makes the start safe to retry: asking again for a session
        that already exists answers that session instead of taking a second stream."""
        if viewer.account_id != who.account_id:
            raise not_found("profile")
        if session_id is not None:
            existing = await session.get(PlaybackSession, session_id)
            if existing is not None:
                if existing.account_id != who.account_id or existing.title_id != title_id:
                    raise ApiError(409, "SESSION_ID_TAKEN", "that session id is already used")
                return await self._answer(
                    session,
                    existing,
                    who=who,
                    edge_urls=edge_urls,
                    edges_configured=edges_configured,
                )
        asset = await session.get(ReadyAsset, (title_id, episode_id or ""))
        title = await session.get(PlayableTitle, title_id)
        if asset is None and title is None:
            raise not_found("title")
        if asset is None:
            raise ApiError(409, "NOT_PLAYABLE", "this title has no ready video yet")
        if title is None:  # its video arrived before its catalog entry: not playable yet
            raise ApiError(409, "NOT_PLAYABLE", "this title is not in the catalog yet")
        if not allows(viewer.maturity, title.maturity_rating):
            raise forbidden("MATURITY_RESTRICTED", "this title is not available on this profile")
        if not edge_urls:
            raise ApiError(
                503,
                "EDGE_UNAVAILABLE",
                "no edge server is available; try again shortly",
                headers={"Retry-After": "5"},
            )
        await self._take_stream(session, who)
        now = _now()
        record = PlaybackSession(
            id=session_id or uuid.uuid4().hex,
            account_id=who.account_id,
            profile_id=viewer.profile_id,
            title_id=title_id,
            episode_id=episode_id or "",
            asset_id=asset.asset_id,
            duration_s=asset.duration_s,
            position_s=min(resume_s, asset.duration_s),
            started_at=now,
            lease_expires_at=now + self.lease,
            stopped_at=None,
            device=device,
        )
        session.add(record)
        started = PlaybackStarted(
            session_id=record.id,
            account_id=who.account_id,
            profile_id=record.profile_id,
            title_id=title_id,
            episode_id=episode_id,
            at=now.isoformat(),
            row=row,
        )
        await self.stage(
            session, PlaybackStarted.TYPE, started.model_dump(mode="json"), key=record.profile_id
        )
        return await self._answer(
            session, record, who=who, edge_urls=edge_urls, edges_configured=edges_configured
        )

    async def _answer(
        self,
        session: AsyncSession,
        record: PlaybackSession,
        *,
        who: Principal,
        edge_urls: list[str],
        edges_configured: bool,
    ) -> dict[str, Any]:
        """What the player needs: the signed manifest on ranked edges, resume point, lease, and
        the bandwidth to start at (what this profile's player measured on this device)."""
        start = await self.links.start(session, profile_id=record.profile_id, device=record.device)
        max_height = PLAN_MAX_HEIGHT.get(who.plan, min(PLAN_MAX_HEIGHT.values()))
        exp = int(time.time()) + self.manifest_ttl_s
        path = sign(self.edge_key, record.asset_id, exp, max_height=max_height)
        edges = ranked_edges(edge_urls, asset_id=record.asset_id, configured=edges_configured)
        return {
            "session_id": record.id,
            "manifest_url": edges[0] + path,
            "manifest_path": path,
            "edge_urls": edges,
            "resume_position_s": record.position_s,
            "duration_s": record.duration_s,
            "max_height": max_height,
            "expires_at": datetime.fromtimestamp(exp, UTC).isoformat(),
            "lease_expires_at": record.lease_expires_at.isoformat(),
            "heartbeat_interval_s": max(1.0, self.lease.total_seconds() / 3),
            "thumbnails_vtt": edges[0] + path.rsplit("/", 1)[0] + "/thumbs.vtt",
            "start_bandwidth_bps": start.bps,
            "start_bandwidth_measured": start.measured,
        }

    async def _take_stream(self, session: AsyncSession, who: Principal) -> None:
        """Serialize starts per account (the upsert takes the row's write lock), then count."""
        values = {"account_id": who.account_id, "touched_at": _now()}
        dialect = session.bind.dialect.name if session.bind else "sqlite"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(AccountStreams).values(**values)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["account_id"], set_={"touched_at": values["touched_at"]}
            )
        )
        active = await session.scalar(
            select(func.count())
            .select_from(PlaybackSession)
            .where(
                PlaybackSession.account_id == who.account_id,
                PlaybackSession.stopped_at.is_(None),
                PlaybackSession.lease_expires_at > _now(),
            )
        )
        limit = PLAN_STREAMS.get(who.plan, 1)
        if (active or 0) >= limit:
            raise ApiError(
                429,
                "STREAM_LIMIT",
                f"your {who.plan} plan streams on {limit} screen(s) at a time; stop another first",
                headers={"Retry-After": str(int(self.lease.total_seconds()))},
            )

    async def _owned(
        self, session: AsyncSession, who: Principal, session_id: str
    ) -> PlaybackSession:
        record = await session.get(PlaybackSession, session_id)
        if record is None or record.account_id != who.account_id:
            raise not_found("playback session")
        return record

    async def heartbeat(
        self,
        session: AsyncSession,
        *,
        who: Principal,
        session_id: str,
        position_s: float,
        bandwidth_bps: int | None = None,
    ) -> dict[str, Any]:
        record = await self._owned(session, who, session_id)
        if record.stopped_at is not None or _aware(record.lease_expires_at) < _now():
            raise ApiError(410, "SESSION_ENDED", "this playback session ended; start playing again")
        if bandwidth_bps is not None:
            await self.links.learn(
                session,
                profile_id=record.profile_id,
                device=record.device,
                bandwidth_bps=bandwidth_bps,
            )
        record.position_s = min(position_s, record.duration_s or position_s)
        record.lease_expires_at = _now() + self.lease
        await self._progress(session, record, PlaybackProgress)
        return {
            "session_id": record.id,
            "position_s": record.position_s,
            "lease_expires_at": record.lease_expires_at.isoformat(),
        }

    async def stop(self, session: AsyncSession, *, who: Principal, session_id: str) -> None:
        record = await self._owned(session, who, session_id)
        if record.stopped_at is None:
            record.stopped_at = _now()
            await self._progress(session, record, PlaybackStopped)

    async def _progress(
        self, session: AsyncSession, record: PlaybackSession, kind: type[PlaybackProgress]
    ) -> None:
        event = kind(
            session_id=record.id,
            account_id=record.account_id,
            profile_id=record.profile_id,
            title_id=record.title_id,
            episode_id=record.episode_id or None,
            position_s=record.position_s,
            duration_s=record.duration_s,
            at=_now().isoformat(),
        )
        await self.stage(session, kind.TYPE, event.model_dump(mode="json"), key=record.profile_id)
