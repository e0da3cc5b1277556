"""Sources live in the media store (services/encoder/sources.py), so any encoder instance can
encode what another received: on S3 the upload is in the bucket and an instance without a
local copy fetches it whole, and a local copy is deleted once its job is done (fetched again if
needed); on files it stays where the upload put it; a store that is down keeps nothing and
says so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cinemesh.platform.media_store import FileMediaStore, OriginUnavailable
from cinemesh.runner.seaweed import SeaweedS3
from cinemesh.services.encoder.package import MediaFolders
from cinemesh.services.encoder.sources import SourceShelf, source_key
from tests.support.media_stores import s3_store, store_env


def shelf_on(folder: Path, store: object) -> SourceShelf:
    folders = MediaFolders(folder)
    folders.prepare()
    return SourceShelf(folders, store)  # type: ignore[arg-type]


def received(folder: Path, body: bytes) -> Path:
    path = folder / "sources" / ".incoming-x"
    path.write_bytes(body)
    return path


async def test_an_instance_without_the_source_fetches_it_from_the_bucket(
    seaweedfs: SeaweedS3, tmp_path: Path
) -> None:
    store = s3_store(store_env("s3", seaweedfs))
    body = os.urandom(700 * 1024)  # more than one chunk of the store's stream
    taker = shelf_on(tmp_path / "taker", store)
    name = f"src-{os.urandom(6).hex()}"
    kept = await taker.keep(received(tmp_path / "taker", body), name)
    assert kept.read_bytes() == body
    assert await store.read(source_key(name)) == body, "the source is in the bucket"
    worker = shelf_on(tmp_path / "worker", store)  # another encoder instance, its own disk
    fetched = await worker.local(name)
    assert fetched == tmp_path / "worker" / "sources" / name and fetched.read_bytes() == body
    assert sorted(p.name for p in fetched.parent.iterdir()) == [name], "no part file left"
    with pytest.raises(FileNotFoundError):
        await worker.local("src-never-uploaded")


async def test_on_s3_a_released_local_copy_is_deleted_and_fetched_again_when_needed(
    seaweedfs: SeaweedS3, tmp_path: Path
) -> None:
    store = s3_store(store_env("s3", seaweedfs))
    shelf = shelf_on(tmp_path, store)
    name = f"src-{os.urandom(6).hex()}"
    kept = await shelf.keep(received(tmp_path, b"video"), name)
    assert shelf.release(name) and not kept.exists(), "the job done, its copy is deleted"
    assert await store.read(source_key(name)) == b"video", "the bucket keeps the source"
    assert not shelf.release(name), "nothing left to delete"
    assert (await shelf.local(name)).read_bytes() == b"video", "fetched again for a new job"


async def test_on_files_the_source_stays_where_the_upload_put_it(tmp_path: Path) -> None:
    media = tmp_path / "media"
    shelf = shelf_on(media, FileMediaStore(media))
    kept = await shelf.keep(received(media, b"video"), "src-a")
    assert kept == media / "sources" / "src-a" and kept.read_bytes() == b"video"
    assert await shelf.local("src-a") == kept
    assert not shelf.release("src-a") and kept.read_bytes() == b"video", "the store's own copy"


async def test_a_store_that_cannot_take_the_source_keeps_nothing(tmp_path: Path) -> None:
    class Down(FileMediaStore):
        async def put_file(self, key: str, file: Path) -> None:
            raise OriginUnavailable("down")

    shelf = shelf_on(tmp_path, Down(tmp_path / "elsewhere"))
    with pytest.raises(OriginUnavailable):
        await shelf.keep(received(tmp_path, b"video"), "src-b")
    assert list((tmp_path / "sources").iterdir()) == []
