"""identity's internal API (`/v1`), called by the gateway and the CLI."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from cinemesh.platform.auth import Principal
from cinemesh.platform.runtime import ServiceRuntime
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


def client_address(request: Request) -> str:
    """The user's address as the gateway saw it (only services can reach this API)."""
    forwarded = request.headers.get(CLIENT_ADDRESS_HEADER, "")
    return (forwarded or (request.client.host if request.client else "unknown"))[:64]


def identity_router(runtime: ServiceRuntime, identity: Identity) -> APIRouter:
    router = APIRouter(prefix="/v1")
    who_dep = Depends(runtime.principal)

    @router.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return identity.key.jwks()

    @router.post("/accounts", status_code=201)
    async def sign_up(body: SignupRequest) -> AccountView:
        return await identity.sign_up(email=body.email, password=body.password, plan=body.plan)

    @router.post("/sessions")
    async def sign_in(body: LoginRequest, request: Request) -> Tokens:
        return await identity.sign_in(
            email=body.email, password=body.password, address=client_address(request)
        )

    @router.post("/sessions/refresh")
    async def refresh(body: RefreshRequest) -> Tokens:
        return await identity.refresh(refresh_token=body.refresh_token)

    @router.post("/sessions/logout", status_code=204)
    async def sign_out(body: RefreshRequest) -> Response:
        await identity.sign_out(refresh_token=body.refresh_token)
        return Response(status_code=204)

    @router.get("/accounts/me")
    async def me(who: Principal = who_dep) -> AccountView:
        return await identity.account(account_id=who.account_id)

    @router.post("/accounts/me/password", status_code=204)
    async def change_password(body: PasswordChange, who: Principal = who_dep) -> Response:
        await identity.change_password(
            account_id=who.account_id, old=body.old_password, new=body.new_password
        )
        return Response(status_code=204)

    @router.post("/admins", status_code=201)
    async def make_admin(body: AdminRequest) -> AccountView:
        """Only reachable with the service credential (the CLI's `users create-admin`)."""
        return await identity.make_admin(email=body.email, password=body.password)

    return router
