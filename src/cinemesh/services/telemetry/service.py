"""The telemetry domain: which sessions exist and whose they are, and the beacons taken for
them. A beacon is stored only for a session this service knows to be the caller's, once per
(session, seq), with an event in the same transaction."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.telemetry import PlayBeacon, PlayReported
from cinemesh.platform.auth import Principal
from cinemesh.platform.errors import ApiError, forbidden
from cinemesh.services.telemetry.models import KnownSession, StoredBeacon

Stage = Callable[..., Awaitable[Any]]
SESSIONS_KEPT_AFTER_LAST_EVENT_MS = 24 * 3600 * 1000

BEACONS = Counter(
    "cinemesh_telemetry_beacons_total",
    "Play beacons offered to telemetry, by what became of them",
    ["outcome"],  # stored, duplicate, not_yours, unknown_session
)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Taken:
    stored: int
    duplicates: int

    def count(self) -> None:
        """Once committed: what became of the batch's beacons, in the metrics."""
        BEACONS.labels("stored").inc(self.stored)
        BEACONS.labels("duplicate").inc(self.duplicates)


@dataclass
class Telemetry:
    stage: Stage

    async def learn_session(
        self,
        session: AsyncSession,
        *,
        session_id: str,
        account_id: str,
        profile_id: str,
        title_id: str,
        episode_id: str | None,
    ) -> None:
        """A playback session, from any of its events (a late-started instance learns the
        sessions already running from their heartbeats)."""
        row = await session.get(KnownSession, session_id)
        if row is None:
            session.add(
                KnownSession(
                    session_id=session_id,
                    account_id=account_id,
                    profile_id=profile_id,
                    title_id=title_id,
                    episode_id=episode_id or "",
                    seen_ms=now_ms(),
                )
            )
        else:
            row.seen_ms = now_ms()

    async def owned_sessions(
        self, session: AsyncSession, *, who: Principal, beacons: list[PlayBeacon]
    ) -> dict[str, KnownSession]:
        """The batch's sessions, each the caller's; otherwise the whole batch is refused:
        403 for another account's session, 404 for one not known (yet: the player retries)."""
        wanted = {b.session_id for b in beacons}
        rows = await session.scalars(
            select(KnownSession).where(KnownSession.session_id.in_(wanted))
        )
        known = {row.session_id: row for row in rows}
        if any(row.account_id != who.account_id for row in known.values()):
            BEACONS.labels("not_yours").inc(len(beacons))
            raise forbidden("SESSION_NOT_YOURS", "beacons may only describe your own sessions")
        if len(known) < len(wanted):
            BEACONS.labels("unknown_session").inc(len(beacons))
            raise ApiError(
                404,
                "SESSION_UNKNOWN",
                "this playback session is not known yet; send its beacons again shortly",
                headers={"Retry-After": "5"},
            )
        return known

    async def take(
        self, session: AsyncSession, *, who: Principal, beacons: list[PlayBeacon]
    ) -> Taken:
        """Store the caller's beacons and stage their events; a (session, seq) seen before is
        skipped, so a batch sent twice (a fetch, then sendBeacon on page hide) counts once."""
        sessions = await self.owned_sessions(session, who=who, beacons=beacons)
        keys = {(b.session_id, b.seq) for b in beacons}
        candidates = await session.execute(
            select(StoredBeacon.session_id, StoredBeacon.seq).where(
                StoredBeacon.session_id.in_(list(sessions)),
                StoredBeacon.seq.in_({s for _, s in keys}),
            )
        )
        seen = {key for key in candidates.tuples() if key in keys}
        received = now_ms()
        stored = 0
        for beacon in beacons:
            key = (beacon.session_id, beacon.seq)
            if key in seen:
                continue
            seen.add(key)
            playing = sessions[beacon.session_id]
            session.add(stored_beacon(beacon, playing=playing, plan=who.plan, received=received))
            await self.stage(
                session,
                PlayReported.TYPE,
                reported(beacon, playing=playing, plan=who.plan, received=received),
                key=playing.profile_id,
            )
            stored += 1
        return Taken(stored=stored, duplicates=len(beacons) - stored)

    async def prune(self, session: AsyncSession, *, retention_ms: int) -> None:
        """Forget beacons past retention and sessions not heard of for a day."""
        now = now_ms()
        await session.execute(
            delete(StoredBeacon).where(StoredBeacon.received_ms < now - retention_ms)
        )
        await session.execute(
            delete(KnownSession).where(
                KnownSession.seen_ms < now - SESSIONS_KEPT_AFTER_LAST_EVENT_MS
            )
        )


def stored_beacon(
    beacon: PlayBeacon, *, playing: KnownSession, plan: str, received: int
) -> StoredBeacon:
    return StoredBeacon(
        session_id=beacon.session_id,
        seq=beacon.seq,
        received_ms=received,
        title_id=playing.title_id,
        plan=plan,
        edge=beacon.edge or "",
        ttff_ms=beacon.ttff_ms,
        played_ms=beacon.played_ms,
        stalls=beacon.stalls,
        rebuffer_ms=beacon.rebuffer_ms,
        bitrate_kbps=beacon.bitrate_kbps,
        height=beacon.height,
        switches=len(beacon.switches),
        dropped_frames=beacon.dropped_frames,
        decoded_frames=beacon.decoded_frames,
        errors=[error.model_dump() for error in beacon.errors],
        error_count=len(beacon.errors),
        fatal=any(error.fatal for error in beacon.errors),
    )


def reported(
    beacon: PlayBeacon, *, playing: KnownSession, plan: str, received: int
) -> dict[str, Any]:
    fatal = next((error.details for error in beacon.errors if error.fatal), None)
    return PlayReported(
        session_id=beacon.session_id,
        seq=beacon.seq,
        account_id=playing.account_id,
        profile_id=playing.profile_id,
        title_id=playing.title_id,
        episode_id=playing.episode_id or None,
        plan=plan,
        edge=beacon.edge,
        at=datetime.fromtimestamp(received / 1000, UTC).isoformat(),
        ttff_ms=beacon.ttff_ms,
        played_ms=beacon.played_ms,
        stalls=beacon.stalls,
        rebuffer_ms=beacon.rebuffer_ms,
        bitrate_kbps=beacon.bitrate_kbps,
        height=beacon.height,
        switches=len(beacon.switches),
        dropped_frames=beacon.dropped_frames,
        decoded_frames=beacon.decoded_frames,
        errors=[error.details for error in beacon.errors],
        fatal_error=fatal,
    ).model_dump(mode="json")
