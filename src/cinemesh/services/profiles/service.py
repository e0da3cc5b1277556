"""The profiles domain: up to five profiles an account, kids capped at KIDS_MAX, My List and
thumbs, each change announced through the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.maturity import ADULT_MAX, KIDS_MAX, level
from cinemesh.contracts.profiles import MyListChanged, ProfileDeleted, ProfileUpserted, TitleRated
from cinemesh.platform.errors import conflict, not_found
from cinemesh.services.profiles.models import ListEntry, Profile, Rating
from cinemesh.services.profiles.schemas import ProfileCreate, ProfileUpdate, ProfileView

MAX_PROFILES = 5
# preferences a PATCH may clear with null (subtitles off, the title's own audio)
CLEARABLE = ("audio_language", "subtitle_language")
LIST_MAX = 1000  # the longest My List answered
Stage = Callable[..., Awaitable[Any]]


class SlotTaken(Exception):
    """A concurrent create took the free slot this one chose; retry in a new transaction."""


def insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _now() -> datetime:
    return datetime.now(UTC)


def view(profile: Profile) -> ProfileView:
    return ProfileView(
        id=profile.id,
        account_id=profile.account_id,
        name=profile.name,
        kids=profile.kids,
        maturity=profile.maturity,
        avatar=profile.avatar,
        language=profile.language,
        audio_language=profile.audio_language,
        subtitle_language=profile.subtitle_language,
        autoplay_next_episode=profile.autoplay_next_episode,
    )


def effective_maturity(*, kids: bool, wanted: str | None) -> str:
    """Kids profiles never go above KIDS_MAX; others default to everything."""
    if kids:
        return KIDS_MAX if wanted is None or level(wanted) > level(KIDS_MAX) else wanted
    return wanted or ADULT_MAX


@dataclass
class Profiles:
    stage: Stage

    async def owned(self, session: AsyncSession, *, account_id: str, profile_id: str) -> Profile:
        """The account's profile; another account's is simply not found."""
        profile = await session.get(Profile, profile_id)
        if profile is None or profile.account_id != account_id:
            raise not_found("profile")
        return profile

    async def of_account(self, session: AsyncSession, *, account_id: str) -> list[Profile]:
        rows = await session.scalars(
            select(Profile).where(Profile.account_id == account_id).order_by(Profile.slot)
        )
        return list(rows)

    async def create(
        self, session: AsyncSession, *, account_id: str, body: ProfileCreate
    ) -> Profile:
        taken = {p.slot for p in await self.of_account(session, account_id=account_id)}
        free = [slot for slot in range(MAX_PROFILES) if slot not in taken]
        if not free:
            raise conflict("PROFILE_LIMIT", f"an account has at most {MAX_PROFILES} profiles")
        profile = Profile(
            id=uuid.uuid4().hex,
            account_id=account_id,
            slot=free[0],
            name=body.name.strip(),
            avatar=body.avatar,
            language=body.language,
            audio_language=body.audio_language,
            subtitle_language=body.subtitle_language,
            autoplay_next_episode=body.autoplay_next_episode,
            kids=body.kids,
            maturity=effective_maturity(kids=body.kids, wanted=body.maturity),
            created_at=_now(),
        )
        session.add(profile)
        try:
            await session.flush()
        except IntegrityError:
            raise SlotTaken() from None
        await self._announce(session, profile)
        return profile

    async def update(
        self, session: AsyncSession, *, account_id: str, profile_id: str, body: ProfileUpdate
    ) -> Profile:
        profile = await self.owned(session, account_id=account_id, profile_id=profile_id)
        changes = body.model_dump(exclude_unset=True, exclude_none=True)
        for name in ("name", "avatar", "language", "kids", "autoplay_next_episode"):
            if name in changes:
                setattr(profile, name, changes[name].strip() if name == "name" else changes[name])
        for name in CLEARABLE:
            if name in body.model_fields_set:
                setattr(profile, name, getattr(body, name))
        if "maturity" in changes or "kids" in changes:
            profile.maturity = effective_maturity(
                kids=profile.kids, wanted=changes.get("maturity", profile.maturity)
            )
        await self._announce(session, profile)
        return profile

    async def delete(self, session: AsyncSession, *, account_id: str, profile_id: str) -> None:
        profile = await self.owned(session, account_id=account_id, profile_id=profile_id)
        await session.execute(delete(ListEntry).where(ListEntry.profile_id == profile.id))
        await session.execute(delete(Rating).where(Rating.profile_id == profile.id))
        await session.delete(profile)
        event = ProfileDeleted(profile_id=profile.id, account_id=account_id)
        await self.stage(
            session, ProfileDeleted.TYPE, event.model_dump(mode="json"), key=profile.id
        )

    async def _announce(self, session: AsyncSession, profile: Profile) -> None:
        event = ProfileUpserted(
            profile_id=profile.id,
            account_id=profile.account_id,
            name=profile.name,
            kids=profile.kids,
            maturity=profile.maturity,
        )
        await self.stage(
            session, ProfileUpserted.TYPE, event.model_dump(mode="json"), key=profile.id
        )

    async def my_list(
        self, session: AsyncSession, *, profile_id: str, limit: int = LIST_MAX
    ) -> tuple[str, list[dict[str, Any]]]:
        """The profile's owner and list, newest first; a profile that is not there is not
        found. One statement of plain rows: every home page asks for it."""
        rows = (
            await session.execute(
                select(Profile.account_id, ListEntry.title_id, ListEntry.added_at)
                .outerjoin(ListEntry, ListEntry.profile_id == Profile.id)
                .where(Profile.id == profile_id)
                .order_by(ListEntry.added_at.desc(), ListEntry.title_id)
                .limit(limit)
            )
        ).all()
        if not rows:
            raise not_found("profile")
        items = [
            {"title_id": row.title_id, "added_at": row.added_at}
            for row in rows
            if row.title_id is not None
        ]
        return rows[0].account_id, items

    async def add_to_list(self, session: AsyncSession, *, profile: Profile, title_id: str) -> bool:
        """True when added; adding twice keeps the first entry (also when both race)."""
        added = await session.execute(
            insert_for(session)(ListEntry)
            .values(profile_id=profile.id, title_id=title_id, added_at=_now())
            .on_conflict_do_nothing()
        )
        if not added.rowcount:  # type: ignore[attr-defined]
            return False
        await self._list_changed(session, profile, title_id, "added")
        return True

    async def remove_from_list(
        self, session: AsyncSession, *, profile: Profile, title_id: str
    ) -> bool:
        removed = await session.execute(
            delete(ListEntry).where(
                ListEntry.profile_id == profile.id, ListEntry.title_id == title_id
            )
        )
        if not removed.rowcount:  # type: ignore[attr-defined]
            return False
        await self._list_changed(session, profile, title_id, "removed")
        return True

    async def _list_changed(
        self, session: AsyncSession, profile: Profile, title_id: str, action: str
    ) -> None:
        event = MyListChanged(
            profile_id=profile.id,
            title_id=title_id,
            action=action,
            at=_now().isoformat(),
        )
        await self.stage(session, MyListChanged.TYPE, event.model_dump(mode="json"), key=profile.id)

    async def rate(
        self, session: AsyncSession, *, profile: Profile, title_id: str, rating: str
    ) -> None:
        """Thumbs up or down, replacing an earlier one; "none" clears it."""
        if rating == "none":
            await session.execute(
                delete(Rating).where(Rating.profile_id == profile.id, Rating.title_id == title_id)
            )
        else:
            values = {"rating": rating, "rated_at": _now()}
            await session.execute(
                insert_for(session)(Rating)
                .values(profile_id=profile.id, title_id=title_id, **values)
                .on_conflict_do_update(index_elements=["profile_id", "title_id"], set_=values)
            )
        event = TitleRated(
            profile_id=profile.id,
            title_id=title_id,
            rating=rating,
            at=_now().isoformat(),
        )
        await self.stage(session, TitleRated.TYPE, event.model_dump(mode="json"), key=profile.id)

    async def ratings(self, session: AsyncSession, *, profile: Profile) -> list[Rating]:
        rows = await session.scalars(
            select(Rating).where(Rating.profile_id == profile.id).order_by(Rating.rated_at.desc())
        )
        return list(rows)
