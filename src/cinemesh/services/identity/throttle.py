"""Sign-in throttling against password guessing, per email and per client address. Counts
live in identity's database, so every instance sees the same ones, and each attempt is
counted atomically *before* the password is checked, so parallel guesses cannot slip past."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.platform.db import Database
from cinemesh.platform.errors import ApiError
from cinemesh.services.identity.models import SignInAttempts

table = SignInAttempts.__table__


@dataclass(frozen=True)
class Limit:
    """At most `attempts` sign-ins for one subject per `window`; then 429 until it ends."""

    kind: str
    attempts: int
    window: timedelta
    code: str
    message: str

    def key(self, subject: str) -> str:
        return f"{self.kind}:{subject}"[:400]


def email_limit(attempts: int, window_s: int) -> Limit:
    return Limit(
        "email",
        attempts,
        timedelta(seconds=window_s),
        "ACCOUNT_LOCKED",
        "too many failed sign-ins for this account; try again later",
    )


def address_limit(attempts: int, window_s: int) -> Limit:
    return Limit(
        "address",
        attempts,
        timedelta(seconds=window_s),
        "TOO_MANY_ATTEMPTS",
        "too many failed sign-ins from this address; try again later",
    )


@dataclass(frozen=True)
class SignInThrottle:
    db: Database
    per_email: Limit
    per_address: Limit

    async def admit(self, *, email: str, address: str) -> None:
        """Count one attempt for the email and the address; 429 once either is used up."""
        async with self.db.transaction() as session:
            counted = [
                (limit, *await _count(session, self.db.dialect, limit.key(subject), limit.window))
                for limit, subject in ((self.per_address, address), (self.per_email, email))
            ]
        for limit, attempts, window_start in counted:
            if attempts > limit.attempts:
                raise _locked(limit, window_start)

    async def succeeded(self, *, email: str, address: str) -> None:
        """A right password clears the email's count and gives the address its attempt back."""
        async with self.db.transaction() as session:
            await session.execute(  # address before email, as in admit: no lock cycles
                update(SignInAttempts)
                .where(
                    SignInAttempts.key == self.per_address.key(address),
                    SignInAttempts.attempts > 0,
                )
                .values(attempts=SignInAttempts.attempts - 1)
            )
            await session.execute(
                delete(SignInAttempts).where(SignInAttempts.key == self.per_email.key(email))
            )


async def _count(
    session: AsyncSession, dialect_name: str, key: str, window: timedelta
) -> tuple[int, datetime]:
    """Add one attempt to `key`, starting a new window when the old one is over."""
    now = datetime.now(UTC)
    expired = table.c.window_start <= now - window
    values: dict[str, Any] = {"key": key, "window_start": now, "attempts": 1}
    dialect: Any = postgresql if dialect_name == "postgresql" else sqlite
    stmt = (
        dialect.insert(table)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "attempts": case((expired, 1), else_=table.c.attempts + 1),
                "window_start": case((expired, now), else_=table.c.window_start),
            },
        )
        .returning(table.c.attempts, table.c.window_start)
    )
    attempts, window_start = (await session.execute(stmt)).one()
    if window_start.tzinfo is None:  # SQLite hands back naive UTC
        window_start = window_start.replace(tzinfo=UTC)
    return int(attempts), window_start


def _locked(limit: Limit, window_start: datetime) -> ApiError:
    wait_s = (window_start + limit.window - datetime.now(UTC)).total_seconds()
    return ApiError(
        429, limit.code, limit.message, headers={"Retry-After": str(max(1, math.ceil(wait_s)))}
    )
