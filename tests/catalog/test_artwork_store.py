"""Generated artwork with an S3 media store (services/catalog/artwork.py): the first catalog
instance to draw an image puts it in the bucket and another instance reads it from there
instead of drawing it again; with the store down an image is still drawn and served."""

from __future__ import annotations

from pathlib import Path

import pytest

from cinemesh.platform.media_store import OriginUnavailable
from cinemesh.runner.seaweed import SeaweedS3
from cinemesh.services.catalog import artwork
from cinemesh.services.catalog.artwork import ArtworkShelf
from tests.support.media_stores import s3_store, store_env


async def test_an_image_drawn_by_one_instance_is_read_from_the_bucket_by_another(
    seaweedfs: SeaweedS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = s3_store(store_env("s3", seaweedfs))
    first = ArtworkShelf(tmp_path / "catalog-0", store)
    drawn = await first.image("t-shared-1", "poster", "Shared Title")
    key = f"artwork/{drawn.relative_to(first.folder).as_posix()}"
    assert await store.read(key) == drawn.read_bytes(), "the drawn image is in the bucket"

    def no_drawing(*_args: object) -> Path:
        raise AssertionError("drawn again on the second instance")

    monkeypatch.setattr(artwork, "render", no_drawing)
    second = ArtworkShelf(tmp_path / "catalog-1", store)
    read = await second.image("t-shared-1", "poster", "Shared Title")
    assert read != drawn and read.read_bytes() == drawn.read_bytes()
    assert read.read_bytes()[:2] == b"\xff\xd8", "a JPEG"


async def test_with_the_store_down_an_image_is_drawn_here(tmp_path: Path) -> None:
    class Down:
        async def read(self, key: str) -> bytes | None:
            raise OriginUnavailable("down")

        async def put_file(self, key: str, file: Path) -> None:
            raise OriginUnavailable("down")

    shelf = ArtworkShelf(tmp_path / "catalog-0", Down())  # type: ignore[arg-type]
    drawn = await shelf.image("t-alone-1", "backdrop", "Alone")
    assert drawn.read_bytes()[:2] == b"\xff\xd8"
    assert await shelf.image("t-alone-1", "backdrop", "Alone") == drawn, "kept on disk"


async def test_a_deleted_titles_images_leave_the_bucket_and_the_disk(
    seaweedfs: SeaweedS3, tmp_path: Path
) -> None:
    store = s3_store(store_env("s3", seaweedfs))
    shelf = ArtworkShelf(tmp_path / "catalog-0", store)
    gone = [await shelf.image("t-gone-1", kind, "Gone") for kind in artwork.KINDS]
    kept = await shelf.image("t-kept-1", "poster", "Kept")
    await shelf.forget("t-gone-1")
    assert not any(path.exists() for path in gone) and kept.exists()
    for path in [*gone, kept]:
        key = f"artwork/{path.relative_to(shelf.folder).as_posix()}"
        assert (await store.read(key) is None) == (path != kept), key


async def test_on_files_a_deleted_titles_images_leave_the_disk(tmp_path: Path) -> None:
    shelf = ArtworkShelf(tmp_path / "catalog-0")
    gone = await shelf.image("t-gone-1", "backdrop", "Gone")
    kept = await shelf.image("t-kept-1", "backdrop", "Kept")
    await shelf.forget("t-gone-1")
    assert not gone.exists() and kept.exists()
