"""Uploaded sources, kept in the media store so that any encoder instance can encode (or package
again) what another one received: on S3 the bucket's `sources/` folder, with a local copy on
the instance's disk while it works on it, deleted once the job has published its assets (the
scratch disk holds the jobs under way, not every source ever received); on files the data
dir's `media/sources`, where the upload already is and stays. No encoder needs a volume shared
with the others."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from cinemesh.platform.media_store import FileMediaStore, MediaStore
from cinemesh.services.encoder.package import MediaFolders

SOURCES = "sources"


def source_key(name: str) -> str:
    return f"{SOURCES}/{name}"


class SourceShelf:
    """Where sources are kept (the media store) and read from (a local copy)."""

    def __init__(self, folders: MediaFolders, store: MediaStore) -> None:
        self.folders = folders
        self.store = store

    async def keep(self, received: Path, name: str) -> Path:
        """Keep an uploaded file as source `name`; answers its local path. OriginUnavailable
        when the store cannot take it (nothing is kept then)."""
        local = self.folders.sources / name
        os.rename(received, local)
        try:
            await self.store.put_file(source_key(name), local)
        except BaseException:
            local.unlink(missing_ok=True)
            raise
        return local

    async def local(self, name: str) -> Path:
        """A local copy of source `name`, fetched from the store unless this instance has one.
        FileNotFoundError when the store has none; OriginUnavailable when it cannot answer."""
        local = self.folders.sources / name
        if local.exists():
            return local
        found = await self.store.fetch(source_key(name))
        part = local.with_name(f".fetching-{uuid.uuid4().hex[:8]}-{name}")
        try:
            with open(part, "wb") as out:
                async for chunk in found.chunks:
                    out.write(chunk)
            if part.stat().st_size != found.size:
                raise OSError(f"source {name}: {part.stat().st_size} of {found.size} bytes")
            os.rename(part, local)
        finally:
            part.unlink(missing_ok=True)
        return local

    def release(self, name: str) -> bool:
        """Delete this instance's copy of source `name`, a job that needed it being done, when
        the store keeps the source elsewhere: on S3 every local copy was put in the bucket
        (keep) or fetched from it (local), so another job fetches it again. On files the copy
        is the store's own and stays. Answers whether a copy was deleted."""
        local = self.folders.sources / name
        if isinstance(self.store, FileMediaStore) and self.store.path(source_key(name)) == local:
            return False
        try:
            local.unlink()
        except FileNotFoundError:
            return False
        return True
