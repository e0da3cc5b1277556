"""What playback knows of a member's link before the first byte of a play: the throughput the
player measured on earlier plays, kept per profile and device (a phone on a train and the
living-room TV of one profile are different links).

The remembered figure falls at once to a slower measurement and climbs slowly to a faster
one, and a play starts from a fraction of it: the first segment has to arrive in a fraction
of a second, and ABR climbs from there within a few segments. A link that got slower since
then starts lower than it could have, never so high that the picture waits for a big first
segment. With nothing measured (a first play, a new device, a figure months old) a play
starts at `first_play_bps`, a low rung."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.services.playback.models import DeviceThroughput

CLIMB = 0.3  # the weight of a faster measurement
START_FRACTION = 0.7  # of the remembered throughput, where the next play starts
FORGOTTEN_AFTER = timedelta(days=30)
MIN_START_BPS = 50_000


@dataclass(frozen=True)
class StartBandwidth:
    """The player's first bandwidth estimate for a play, and whether it was measured."""

    bps: int
    measured: bool


@dataclass
class LinkMemory:
    first_play_bps: int = 500_000

    async def start(self, session: AsyncSession, *, profile_id: str, device: str) -> StartBandwidth:
        """Where this profile's next play on this device starts."""
        known = await session.get(DeviceThroughput, (profile_id, device))
        if known is None or known.measured_at < datetime.now(UTC) - FORGOTTEN_AFTER:
            return StartBandwidth(self.first_play_bps, measured=False)
        return StartBandwidth(
            max(MIN_START_BPS, int(known.bandwidth_bps * START_FRACTION)), measured=True
        )

    async def learn(
        self, session: AsyncSession, *, profile_id: str, device: str, bandwidth_bps: float
    ) -> None:
        """Fold one measurement in, in one statement (two instances may take beats at once):
        the remembered figure falls at once to a slower one and climbs by CLIMB of the gap to
        a faster one."""
        values = {
            "profile_id": profile_id,
            "device": device,
            "bandwidth_bps": float(bandwidth_bps),
            "samples": 1,
            "measured_at": datetime.now(UTC),
        }
        dialect = session.bind.dialect.name if session.bind else "sqlite"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(DeviceThroughput).values(**values)
        known, measured = DeviceThroughput.bandwidth_bps, stmt.excluded.bandwidth_bps
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["profile_id", "device"],
                set_={
                    "bandwidth_bps": case(
                        (measured <= known, measured), else_=known + CLIMB * (measured - known)
                    ),
                    "samples": DeviceThroughput.samples + 1,
                    "measured_at": stmt.excluded.measured_at,
                },
            )
        )
