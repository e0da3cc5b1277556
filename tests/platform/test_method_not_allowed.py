"""A 405 names in `Allow` every method the path answers, not only those of the first route
whose path matched (Starlette's own answer), in the error envelope."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI

from cinemesh.platform.runtime import install_error_handlers

router = APIRouter(prefix="/things")


@router.patch("/{thing_id}")
async def change(thing_id: str) -> dict[str, str]:
    return {"id": thing_id}


@router.get("")
async def listing() -> dict[str, list[str]]:
    return {"items": []}


@router.delete("/{thing_id}", status_code=204)
async def remove(thing_id: str) -> None:
    return None


@router.post("")
async def create() -> dict[str, str]:
    return {"id": "new"}


def app() -> FastAPI:
    built = FastAPI()
    built.include_router(router)
    install_error_handlers(built)
    return built


async def test_allow_lists_every_method_of_the_path() -> None:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        one = await client.options("/things/7")
        many = await client.put("/things")
    assert one.status_code == 405
    assert one.headers["allow"] == "DELETE, PATCH"
    assert one.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert many.status_code == 405
    assert many.headers["allow"] == "GET, POST"
