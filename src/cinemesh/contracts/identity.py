"""identity.* events."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel

Plan = Literal["basic", "standard", "premium"]
PLAN_STREAMS: dict[str, int] = {"basic": 1, "standard": 2, "premium": 4}
PLAN_MAX_HEIGHT: dict[str, int] = {"basic": 720, "standard": 1080, "premium": 2160}


class AccountCreated(BaseModel):
    TYPE: ClassVar[str] = "identity.account.created"
    VERSION: ClassVar[int] = 1
    account_id: str
    plan: Plan
    role: str = "member"


class AccountPlanChanged(BaseModel):
    TYPE: ClassVar[str] = "identity.account.plan_changed"
    VERSION: ClassVar[int] = 1
    account_id: str
    plan: Plan


class AccountRoleChanged(BaseModel):
    TYPE: ClassVar[str] = "identity.account.role_changed"
    VERSION: ClassVar[int] = 1
    account_id: str
    role: Literal["member", "admin"]


class AccountPasswordChanged(BaseModel):
    """Every refresh token of the account was revoked with it."""

    TYPE: ClassVar[str] = "identity.account.password_changed"
    VERSION: ClassVar[int] = 1
    account_id: str


class AccountSessionsRevoked(BaseModel):
    """A spent refresh token came back: the family it belongs to is signed out."""

    TYPE: ClassVar[str] = "identity.account.sessions_revoked"
    VERSION: ClassVar[int] = 1
    account_id: str
    reason: Literal["refresh_token_reused"]
