"""identity's API payloads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from cinemesh.platform.bodies import RequestBody

Plan = Literal["basic", "standard", "premium"]


class SignupRequest(RequestBody):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)
    plan: Plan = "basic"


class LoginRequest(RequestBody):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(RequestBody):
    refresh_token: str = Field(min_length=10, max_length=200)


class PasswordChange(RequestBody):
    old_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class AdminRequest(RequestBody):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)


class AccountView(BaseModel):
    id: str
    email: str
    plan: Plan
    role: str
    streams: int
    max_height: int


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
