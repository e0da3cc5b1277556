"""What route handlers ask for, declared once as types (the FastAPI full-stack template's way).

A handler names what it needs, `db: Db`, `who: Who`, `_: Admin`, `catalog: CatalogDep`, and
FastAPI hands it over from the runtime on `app.state`. Each service declares one more type
for its domain object with `provided(Kind)`; `ServiceRuntime.build_app(..., provides=...)`
puts the object there. Every dependency here is `async`: FastAPI runs a plain `def` one in a
thread, a switch per request that costs more than the lookup itself.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from cinemesh.platform.auth import Principal
from cinemesh.platform.db import Database
from cinemesh.platform.runtime import ServiceRuntime

T = TypeVar("T")


async def current_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def service_database(request: Request) -> Database:
    return (await current_runtime(request)).database


async def signed_in(request: Request) -> Principal:
    """The signed-in account behind a request; 401 without a valid access token."""
    return await (await current_runtime(request)).principal(request)


async def admin_only(request: Request) -> Principal:
    """The signed-in account, which must be an admin; 403 otherwise."""
    return await (await current_runtime(request)).admin(request)


def provided(kind: type[T]) -> Any:
    """`Depends` on the object of that type the service gave `build_app(provides=...)`."""

    async def lookup(request: Request) -> T:
        found: T = request.app.state.provided[kind]
        return found

    lookup.__name__ = f"provided_{kind.__name__}"
    return Depends(lookup)


Runtime = Annotated[ServiceRuntime, Depends(current_runtime)]
Db = Annotated[Database, Depends(service_database)]
Who = Annotated[Principal, Depends(signed_in)]
Admin = Annotated[Principal, Depends(admin_only)]

__all__ = ["Admin", "Db", "Runtime", "Who", "provided"]
