"""The identity domain: accounts, sign-in behind the throttle, rotating refresh-token families."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.identity import (
    PLAN_MAX_HEIGHT,
    PLAN_STREAMS,
    AccountCreated,
    AccountPasswordChanged,
    AccountRoleChanged,
    AccountSessionsRevoked,
)
from cinemesh.platform.db import Database
from cinemesh.platform.errors import ApiError, conflict, not_found
from cinemesh.services.identity.keys import SigningKey
from cinemesh.services.identity.models import Account, RefreshToken
from cinemesh.services.identity.passwords import (
    hash_password,
    needs_rehash,
    verify_password,
    weakness,
)
from cinemesh.services.identity.schemas import AccountView, Tokens
from cinemesh.services.identity.throttle import SignInThrottle

REFRESH_TTL = timedelta(days=30)
Stage = Callable[..., Awaitable[Any]]
Event = AccountCreated | AccountPasswordChanged | AccountRoleChanged | AccountSessionsRevoked


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _normal(email: str) -> str:
    return email.strip().lower()


def view(account: Account) -> AccountView:
    return AccountView(
        id=account.id,
        email=account.email,
        plan=account.plan,
        role=account.role,
        streams=PLAN_STREAMS[account.plan],
        max_height=PLAN_MAX_HEIGHT[account.plan],
    )


async def _strong_hash(password: str, *, email: str) -> str:
    """The argon2id hash of an acceptable password; 422 naming the rule it breaks otherwise."""
    problem = weakness(password, email=email)
    if problem:
        raise ApiError(422, "WEAK_PASSWORD", problem)
    return await hash_password(password)


def invalid_refresh() -> ApiError:
    return ApiError(401, "INVALID_REFRESH_TOKEN", "that refresh token is not valid; sign in again")


@dataclass
class Identity:
    """Sign-up, sign-in and tokens; each method is one transaction in identity's database."""

    db: Database
    key: SigningKey
    stage: Stage
    throttle: SignInThrottle
    access_ttl_s: int = 15 * 60

    async def _announce(self, session: AsyncSession, event: Event, account_id: str) -> None:
        await self.stage(session, event.TYPE, event.model_dump(mode="json"), key=account_id)

    async def sign_up(
        self, *, email: str, password: str, plan: str, role: str = "member"
    ) -> AccountView:
        """A new account; 422 naming the rule a weak password breaks, 409 for a taken email."""
        email = _normal(email)
        password_hash = await _strong_hash(password, email=email)
        async with self.db.transaction() as session:
            account = await self._create(
                session, email=email, password_hash=password_hash, plan=plan, role=role
            )
        return view(account)

    async def _create(
        self, session: AsyncSession, *, email: str, password_hash: str, plan: str, role: str
    ) -> Account:
        account = Account(
            id=uuid.uuid4().hex,
            email=email,
            password_hash=password_hash,
            plan=plan,
            role=role,
            created_at=_now(),
        )
        session.add(account)
        try:
            await session.flush()
        except IntegrityError:
            raise conflict("EMAIL_TAKEN", "an account with that email already exists") from None
        created = AccountCreated(account_id=account.id, plan=plan, role=role)
        await self._announce(session, created, account.id)
        return account

    async def _find(self, email: str) -> Account | None:
        async with self.db.session() as session:
            return await session.scalar(select(Account).where(Account.email == email))

    async def sign_in(self, *, email: str, password: str, address: str) -> Tokens:
        """Tokens for the right password; 401 otherwise; 429 once the throttle says so."""
        email = _normal(email)
        await self.throttle.admit(email=email, address=address)
        account = await self._find(email)  # hashes are checked outside any transaction
        if not await verify_password(account.password_hash if account else None, password):
            raise ApiError(401, "INVALID_CREDENTIALS", "the email or password is wrong")
        assert account is not None
        rehashed = await hash_password(password) if needs_rehash(account.password_hash) else ""
        async with self.db.transaction() as session:
            if rehashed:
                await session.execute(
                    update(Account).where(Account.id == account.id).values(password_hash=rehashed)
                )
            tokens = await self._issue(session, account, family_id=uuid.uuid4().hex)
        await self.throttle.succeeded(email=email, address=address)
        return tokens

    async def _issue(self, session: AsyncSession, account: Account, *, family_id: str) -> Tokens:
        refresh = secrets.token_urlsafe(32)
        session.add(
            RefreshToken(
                token_hash=_digest(refresh),
                family_id=family_id,
                account_id=account.id,
                expires_at=_now() + REFRESH_TTL,
                created_at=_now(),
            )
        )
        access = self.key.access_token(
            account_id=account.id,
            role=account.role,
            plan=account.plan,
            email=account.email,
            ttl_s=self.access_ttl_s,
        )
        return Tokens(access_token=access, refresh_token=refresh, expires_in=self.access_ttl_s)

    async def refresh(self, *, refresh_token: str) -> Tokens:
        """Rotate: the token is spent at once; presenting a spent one revokes its family."""
        digest = _digest(refresh_token)
        async with self.db.transaction() as session:
            spent = await session.execute(
                update(RefreshToken)
                .where(
                    RefreshToken.token_hash == digest,
                    RefreshToken.rotated_at.is_(None),
                    RefreshToken.revoked_at.is_(None),
                    RefreshToken.expires_at > _now(),
                )
                .values(rotated_at=_now())
            )
            token = await session.get(RefreshToken, digest)
            if token is None:
                raise invalid_refresh()
            if spent.rowcount == 1:  # type: ignore[attr-defined]
                account = await session.get(Account, token.account_id)
                if account is None:
                    raise invalid_refresh()
                return await self._issue(session, account, family_id=token.family_id)
            reused = token.rotated_at is not None or token.revoked_at is not None
        if not reused:
            raise invalid_refresh()  # expired
        await self._revoke_reused_family(token)
        raise ApiError(
            401,
            "REFRESH_TOKEN_REUSED",
            "that refresh token was already used; every session from it is signed out",
        )

    async def _revoke_reused_family(self, token: RefreshToken) -> None:
        async with self.db.transaction() as session:
            revoked = await self._revoke(session, RefreshToken.family_id == token.family_id)
            if revoked:
                event = AccountSessionsRevoked(
                    account_id=token.account_id, reason="refresh_token_reused"
                )
                await self._announce(session, event, token.account_id)

    async def _revoke(self, session: AsyncSession, *where: Any) -> int:
        result = await session.execute(
            update(RefreshToken)
            .where(*where, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def sign_out(self, *, refresh_token: str) -> None:
        """Revoke the token's family (the sign-in it came from); unknown tokens are fine."""
        async with self.db.transaction() as session:
            token = await session.get(RefreshToken, _digest(refresh_token))
            if token is not None:
                await self._revoke(session, RefreshToken.family_id == token.family_id)

    async def account(self, *, account_id: str) -> AccountView:
        async with self.db.session() as session:
            account = await session.get(Account, account_id)
        if account is None:
            raise not_found("account")
        return view(account)

    async def change_password(self, *, account_id: str, old: str, new: str) -> None:
        """Needs the current password; signs out every refresh token of the account."""
        async with self.db.session() as session:
            account = await session.get(Account, account_id)
        if account is None or not await verify_password(account.password_hash, old):
            raise ApiError(401, "INVALID_CREDENTIALS", "the current password is wrong")
        new_hash = await _strong_hash(new, email=account.email)
        async with self.db.transaction() as session:
            await session.execute(
                update(Account).where(Account.id == account_id).values(password_hash=new_hash)
            )
            await self._revoke(session, RefreshToken.account_id == account_id)
            await self._announce(session, AccountPasswordChanged(account_id=account_id), account_id)

    async def make_admin(self, *, email: str, password: str) -> AccountView:
        """Create an admin account, or promote an existing account whose password matches."""
        email = _normal(email)
        async with self.db.transaction() as session:
            existing = await session.scalar(select(Account).where(Account.email == email))
            if existing is None:
                password_hash = await _strong_hash(password, email=email)
                created = await self._create(
                    session, email=email, password_hash=password_hash, plan="premium", role="admin"
                )
                return view(created)
            if not await verify_password(existing.password_hash, password):
                raise conflict(
                    "EMAIL_TAKEN", "that email belongs to an account with another password"
                )
            if existing.role != "admin":
                existing.role = "admin"
                await self._announce(
                    session, AccountRoleChanged(account_id=existing.id, role="admin"), existing.id
                )
            return view(existing)
