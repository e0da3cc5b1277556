"""/api/v1/auth: sign up, sign in, refresh, sign out, change password (identity behind it)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, EmailStr, Field

from cinemesh.platform.bodies import RequestBody
from cinemesh.services.gateway.core import relay
from cinemesh.services.gateway.deps import GatewayDep, Member

Plan = Literal["basic", "standard", "premium"]


class SignupBody(RequestBody):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)
    plan: Plan = "basic"


class LoginBody(RequestBody):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)


class RefreshBody(RequestBody):
    refresh_token: str = Field(min_length=10, max_length=200)


class PasswordBody(RequestBody):
    old_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class AccountOut(BaseModel):
    id: str
    email: str
    plan: Plan
    role: str
    streams: int
    max_height: int


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def client_address(request: Request) -> dict[str, str]:
    return {"X-Cinemesh-Client-Address": request.client.host if request.client else ""}


@router.post("/signup", status_code=201, response_model=AccountOut)
async def sign_up(body: SignupBody, request: Request, gateway: GatewayDep) -> Response:
    """Create an account; `plan` sets concurrent streams and the maximum resolution."""
    return relay(
        await gateway.call(
            "identity",
            "POST",
            "/v1/accounts",
            json=body.model_dump(),
            request=request,
            headers=client_address(request),
        )
    )


@router.post("/login", response_model=TokensOut)
async def log_in(body: LoginBody, request: Request, gateway: GatewayDep) -> Response:
    return relay(
        await gateway.call(
            "identity",
            "POST",
            "/v1/sessions",
            json=body.model_dump(),
            request=request,
            headers=client_address(request),
            timeout_s=5,
        )
    )


@router.post("/refresh", response_model=TokensOut)
async def refresh(body: RefreshBody, request: Request, gateway: GatewayDep) -> Response:
    """Rotate the refresh token; reusing a spent one signs out its whole family."""
    return relay(
        await gateway.call(
            "identity", "POST", "/v1/sessions/refresh", json=body.model_dump(), request=request
        )
    )


@router.post("/logout", status_code=204)
async def log_out(body: RefreshBody, request: Request, gateway: GatewayDep) -> Response:
    return relay(
        await gateway.call(
            "identity", "POST", "/v1/sessions/logout", json=body.model_dump(), request=request
        )
    )


@router.get("/me", response_model=AccountOut)
async def me(request: Request, gateway: GatewayDep, _who: Member) -> Response:
    return relay(await gateway.call("identity", "GET", "/v1/accounts/me", request=request))


@router.post("/password", status_code=204)
async def change_password(
    body: PasswordBody, request: Request, gateway: GatewayDep, _who: Member
) -> Response:
    return relay(
        await gateway.call(
            "identity",
            "POST",
            "/v1/accounts/me/password",
            json=body.model_dump(),
            request=request,
            timeout_s=5,
        )
    )
