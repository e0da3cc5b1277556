"""The two media stores the media and edge suites run on: files under the data dir, and an S3
bucket on one SeaweedFS started for the whole session (each platform its own folder of it)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import obstore

from cinemesh.platform.media_store import (
    ASSETS,
    MediaStoreSettings,
    S3MediaStore,
    asset_key,
)
from cinemesh.runner.seaweed import SeaweedS3

STORES = ["files", "s3"]


def store_env(kind: str, seaweed: SeaweedS3 | None) -> dict[str, str]:
    """The environment that points a platform at `kind`: a new folder of the bucket for s3."""
    if kind == "files":
        return {}
    assert seaweed is not None
    return seaweed.env(prefix=f"run-{uuid.uuid4().hex[:8]}")


def s3_settings(env: dict[str, str]) -> MediaStoreSettings:
    """The media store settings a service started with `env` reads."""
    return MediaStoreSettings.model_validate(
        {
            "media_store": env["CINEMESH_MEDIA_STORE"],
            "s3_endpoint": env["CINEMESH_S3_ENDPOINT"],
            "CINEMESH_S3_ACCESS_KEY": env["AWS_ACCESS_KEY_ID"],
            "CINEMESH_S3_SECRET_KEY": env["AWS_SECRET_ACCESS_KEY"],
        }
    )


def s3_store(env: dict[str, str]) -> S3MediaStore:
    """The store a platform started with `env` uses, opened here."""
    return S3MediaStore(s3_settings(env))


def uses_s3(env: dict[str, str]) -> bool:
    return env.get("CINEMESH_MEDIA_STORE", "").startswith("s3://")


def publish_asset(env: dict[str, str], data_dir: Path, asset_id: str, package: Path) -> None:
    """Put a package where the platform's edges find it, as the encoder publishes it."""
    if uses_s3(env):
        asyncio.run(s3_store(env).publish(asset_id, package))
    else:
        shutil.copytree(package, data_dir / "media" / ASSETS / asset_id)


def asset_keys(store: S3MediaStore, asset_id: str) -> list[str]:
    """Every object of an asset in the bucket, listed through the S3 API."""

    async def listed() -> list[str]:
        keys: list[str] = []
        async for batch in obstore.list(store.store, prefix=asset_key(asset_id) + "/"):
            keys.extend(meta["path"] for meta in batch)
        return sorted(keys)

    return asyncio.run(listed())


def download_asset(store: S3MediaStore, asset_id: str, into: Path) -> Path:
    """Copy every object of an asset out of the bucket into `into` (for checks on files)."""

    async def fetch(keys: list[str]) -> None:
        for key in keys:
            body = await store.read(key)
            assert body is not None, f"{key} vanished from the store"
            target = into.joinpath(*key.removeprefix(asset_key(asset_id) + "/").split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)

    asyncio.run(fetch(asset_keys(store, asset_id)))
    return into
