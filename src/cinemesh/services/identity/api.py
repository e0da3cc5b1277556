"""identity's internal API (`/v1`), called by the gateway and the CLI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response

from cinemesh.platform.deps import Who, provided
from cinemesh.services.identity.schemas import (
    AccountView,
    AdminRequest,
    LoginRequest,
    PasswordChange,
    RefreshRequest,
    SignupRequest,
    Tokens,
)
from cinemesh.services.identity.service import Identity

CLIENT_ADDRESS_HEADER = "X-Cinemesh-Client-Address"

IdentityDep = Annotated[Identity, provided(Identity)]
router = APIRouter(prefix="/v1")


def client_address(request: Request) -> str:
    """The user's address as the gateway saw it (only services can reach this API)."""
    forwarded = request.headers.get(CLIENT_ADDRESS_HEADER, "")
    return (forwarded or (request.client.host if request.client else "unknown"))[:64]


@router.get("/jwks")
async def jwks(identity: IdentityDep) -> dict[str, Any]:
    return identity.key.jwks()


@router.post("/accounts", status_code=201)
async def sign_up(body: SignupRequest, identity: IdentityDep) -> AccountView:
    return await identity.sign_up(email=body.email, password=body.password, plan=body.plan)


@router.post("/sessions")
async def sign_in(body: LoginRequest, request: Request, identity: IdentityDep) -> Tokens:
    return await identity.sign_in(
        email=body.email, password=body.password, address=client_address(request)
    )


@router.post("/sessions/refresh")
async def refresh(body: RefreshRequest, identity: IdentityDep) -> Tokens:
    return await identity.refresh(refresh_token=body.refresh_token)


@router.post("/sessions/logout", status_code=204)
async def sign_out(body: RefreshRequest, identity: IdentityDep) -> Response:
    await identity.sign_out(refresh_token=body.refresh_token)
    return Response(status_code=204)


@router.get("/accounts/me")
async def me(identity: IdentityDep, who: Who) -> AccountView:
    return await identity.account(account_id=who.account_id)


@router.post("/accounts/me/password", status_code=204)
async def change_password(body: PasswordChange, identity: IdentityDep, who: Who) -> Response:
    await identity.change_password(
        account_id=who.account_id, old=body.old_password, new=body.new_password
    )
    return Response(status_code=204)


@router.post("/admins", status_code=201)
async def make_admin(body: AdminRequest, identity: IdentityDep) -> AccountView:
    """Only reachable with the service credential (the CLI's `users create-admin`)."""
    return await identity.make_admin(email=body.email, password=body.password)
