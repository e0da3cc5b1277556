"""What the gateway's route modules ask for, declared once as types (platform/deps.py's way).

`Member` and `AdminMember` stand in for the platform's `Who` and `Admin` here: the same
signed-in account (or admin), within its per-account rate limit (`Gateway.principal`).
They read the gateway off the app themselves instead of asking for `GatewayDep`: FastAPI
solves every dependency of a request anew, even one it has cached, at a few microseconds
each, and these run on every page the gateway serves. Every dependency is `async` (a plain
`def` one would run in a thread).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cinemesh.platform.auth import Principal
from cinemesh.platform.deps import provided
from cinemesh.services.gateway.core import Gateway

GatewayDep = Annotated[Gateway, provided(Gateway)]


def gateway_of(request: Request) -> Gateway:
    """The gateway `build_app(provides=...)` put on the app (what `GatewayDep` hands over)."""
    gateway: Gateway = request.app.state.provided[Gateway]
    return gateway


async def rate_limited_member(request: Request) -> Principal:
    """The signed-in account (401 otherwise), within its rate limit (429 otherwise)."""
    return await gateway_of(request).principal(request)


async def rate_limited_admin(request: Request) -> Principal:
    """The signed-in account, which must be an admin (403 otherwise), within its rate limit."""
    return await gateway_of(request).admin(request)


Member = Annotated[Principal, Depends(rate_limited_member)]
AdminMember = Annotated[Principal, Depends(rate_limited_admin)]

__all__ = ["AdminMember", "GatewayDep", "Member"]
