"""The media store: an asset is published whole or not at all, on files and on a real S3
server (SeaweedFS); a publish that died part-way resumes; a store that is down says so."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import obstore
import pytest

from cinemesh.platform.media_store import (
    MASTER,
    FileMediaStore,
    MediaStoreSettings,
    OriginUnavailable,
    S3MediaStore,
    asset_key,
    published_manifest,
)
from cinemesh.runner.layout import free_port
from cinemesh.runner.seaweed import SeaweedS3
from tests.support.media_stores import s3_settings, s3_store, store_env


class FailingAfter(S3MediaStore):
    """An S3 store whose uploads fail after `allowed` of them: a publish dying mid-way."""

    def __init__(self, settings: MediaStoreSettings, *, allowed: int) -> None:
        super().__init__(settings)
        self.allowed = allowed
        self.puts: list[str] = []

    async def put_file(self, key: str, file: Path) -> None:
        if len(self.puts) >= self.allowed:
            raise OriginUnavailable("the store went away")
        self.puts.append(key)
        await super().put_file(key, file)


def make_package(folder: Path, segments: int = 12) -> Path:
    for rendition in ("180p", "360p"):
        (folder / rendition).mkdir(parents=True)
        (folder / rendition / "index.m3u8").write_text("#EXTM3U\n#EXT-X-ENDLIST\n")
        for n in range(segments):
            (folder / rendition / f"seg_{n:03d}.m4s").write_bytes(bytes([n]) * 45_000)
    (folder / "asset.json").write_text('{"asset_id": "a1"}')
    (folder / MASTER).write_text("#EXTM3U\n")
    return folder


async def keys_in(store: S3MediaStore, asset_id: str) -> set[str]:
    found: set[str] = set()
    async for batch in obstore.list(store.store, prefix=asset_key(asset_id) + "/"):
        found.update(meta["path"] for meta in batch)
    return found


def test_an_s3_publish_that_dies_part_way_leaves_no_master_and_resumes(
    seaweedfs: SeaweedS3, tmp_path: Path
) -> None:
    package = make_package(tmp_path / "package")
    files = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    env = store_env("s3", seaweedfs)
    bucket = s3_store(env)

    dying = FailingAfter(s3_settings(env), allowed=10)
    with pytest.raises(OriginUnavailable):
        asyncio.run(dying.publish("a1", package))
    partial = asyncio.run(keys_in(bucket, "a1"))
    assert 0 < len(partial) < len(files), "some objects were written before the failure"
    assert asset_key("a1", MASTER) not in partial, "the master playlist is never early"
    assert asyncio.run(published_manifest(bucket, "a1", "asset.json")) is None

    resumed = FailingAfter(s3_settings(env), allowed=10_000)
    asyncio.run(resumed.publish("a1", package))
    assert resumed.puts[-1] == asset_key("a1", MASTER), "the master playlist comes last"
    # an upload cancelled by the failure may still land after the listing above: what was listed
    # is certainly there, and none of it is sent again
    assert not set(resumed.puts) & partial, "objects already there are kept"
    assert len(resumed.puts) <= len(files) - len(partial)
    assert asyncio.run(keys_in(bucket, "a1")) == {asset_key("a1", f) for f in files}
    manifest = asyncio.run(published_manifest(bucket, "a1", "asset.json"))
    assert manifest == b'{"asset_id": "a1"}'


def test_the_files_store_publishes_a_package_with_one_rename(tmp_path: Path) -> None:
    store = FileMediaStore(tmp_path / "media")
    package = make_package(tmp_path / "work" / "package")
    asyncio.run(store.publish("a1", package))
    assert not package.exists()
    assert (tmp_path / "media" / "assets" / "a1" / "360p" / "seg_011.m4s").stat().st_size == 45_000
    again = make_package(tmp_path / "work2" / "package")
    asyncio.run(store.publish("a1", again))  # a second attempt finds it published: no error
    assert asyncio.run(published_manifest(store, "a1", "asset.json")) is not None
    assert asyncio.run(published_manifest(store, "missing", "asset.json")) is None


def test_a_store_that_is_down_is_unavailable_soon_not_missing(tmp_path: Path) -> None:
    down = S3MediaStore(
        MediaStoreSettings.model_validate(
            {
                "media_store": "s3://media",
                "s3_endpoint": f"http://127.0.0.1:{free_port()}",
                "CINEMESH_S3_ACCESS_KEY": "k",
                "CINEMESH_S3_SECRET_KEY": "s",
                "s3_timeout_s": 2.0,
            }
        )
    )
    started = time.monotonic()
    for attempt in (down.read("assets/a1/master.m3u8"), down.check()):
        with pytest.raises(OriginUnavailable):
            asyncio.run(attempt)
    assert time.monotonic() - started < 15
