"""The edge as a cache in front of the S3 origin, the way an Open Connect appliance is: each
instance keeps the objects it served on its own disk, up to a byte limit, and asks the origin
only for what it does not hold.

- Eviction is least recently used. Segment popularity is steep and sticky (a title that is
  watched now is watched by many for days), so recency tracks it well, and an object's files
  are read in playback order, so the oldest-read segment of a title is the first one a new
  viewer no longer needs. The page cache keeps the hottest objects in memory on top of it.
- One origin fetch per object however many requests miss it at once (the later ones wait for
  the first one's fill).
- A fill is written to a hidden `.part` file and renamed when whole: an edge killed mid-fill
  leaves a `.part`, which is removed at start, and never a partial object that could be served.
- The signed URL is checked before any of this (server.py); an asset is served only once its
  master playlist is in the origin, which the encoder writes last."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import OrderedDict
from pathlib import Path

from prometheus_client import Counter, Gauge

from cinemesh.contracts.signed_urls import MediaPath
from cinemesh.platform.media_store import MASTER, MediaStore, asset_key
from cinemesh.platform.observability import logger
from cinemesh.services.edge.playlists import Ladder

log = logger("cinemesh.edge.cache")

CACHE_REQUESTS = Counter(
    "cinemesh_edge_cache_requests_total", "Media objects asked of the edge cache", ["result"]
)
CACHE_BYTES_SERVED = Counter(
    "cinemesh_edge_cache_served_bytes_total",
    "Bytes of media objects served, by where they came from (cache: a hit; origin: a fill)",
    ["source"],
)
ORIGIN_FETCHES = Counter("cinemesh_edge_origin_fetches_total", "Objects fetched from the origin")
ORIGIN_BYTES = Counter("cinemesh_edge_origin_bytes_total", "Bytes fetched from the origin")
EVICTIONS = Counter("cinemesh_edge_cache_evictions_total", "Objects evicted from the edge cache")
CACHED_BYTES = Gauge("cinemesh_edge_cache_bytes", "Bytes the edge cache holds")
CACHED_OBJECTS = Gauge("cinemesh_edge_cache_objects", "Objects the edge cache holds")
PART = ".part"
LADDERS_KEPT = 4096
FILL_ATTEMPTS = 2


class EdgeCache:
    """Objects of the origin on this instance's disk, at most `max_bytes` of them (an object
    larger than the whole cache is the one exception, until the next fill evicts it)."""

    def __init__(self, folder: Path, *, max_bytes: int, origin: MediaStore) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.origin = origin
        self.sizes: OrderedDict[str, int] = OrderedDict()  # least recently used first
        self.total = 0
        self._fills: dict[str, asyncio.Task[None]] = {}

    def load(self) -> None:
        """Take up what an earlier run of this instance cached; drop its unfinished fills."""
        self.folder.mkdir(parents=True, exist_ok=True)
        found: list[tuple[float, str, int]] = []
        for path in self.folder.rglob("*"):
            if not path.is_file():
                continue
            if path.name.endswith(PART):
                path.unlink(missing_ok=True)
                continue
            stat = path.stat()
            found.append((stat.st_atime, path.relative_to(self.folder).as_posix(), stat.st_size))
        for _used, key, size in sorted(found):
            self._admit(key, size)
        log.info("edge cache loaded", objects=len(self.sizes), bytes=self.total)

    def path(self, key: str) -> Path:
        return self.folder.joinpath(*key.split("/"))

    async def open(self, key: str) -> int | None:
        """A descriptor of the object, filled from the origin on a miss; None when the origin
        has no such object. OriginUnavailable when the origin cannot be asked."""
        fd = self._open_cached(key)
        if fd is not None:
            CACHE_REQUESTS.labels("hit").inc()
            CACHE_BYTES_SERVED.labels("cache").inc(self.sizes[key])
            return fd
        CACHE_REQUESTS.labels("miss").inc()
        for _ in range(FILL_ATTEMPTS):  # a fill evicted before it was opened is filled again
            if not await self._fill(key):
                return None
            fd = self._open_cached(key)
            if fd is not None:
                CACHE_BYTES_SERVED.labels("origin").inc(self.sizes[key])
                return fd
        return None

    async def warm(self, key: str) -> bool:
        """Fill `key` ahead of demand unless it is cached; False when the origin has none."""
        if key in self.sizes:
            self.sizes.move_to_end(key)
            return True
        return await self._fill(key)

    def _open_cached(self, key: str) -> int | None:
        if key not in self.sizes:
            return None
        try:
            fd = os.open(self.path(key), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            self._forget(key)
            return None
        self.sizes.move_to_end(key)
        return fd

    async def _fill(self, key: str) -> bool:
        """Fetch `key` once for every request waiting on it; False when the origin has none."""
        task = self._fills.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key))
            self._fills[key] = task
            task.add_done_callback(lambda _done: self._fills.pop(key, None))
        try:
            await asyncio.shield(task)  # a viewer going away does not cancel the others' fill
        except FileNotFoundError:
            return False
        return True

    async def _fetch(self, key: str) -> None:
        ORIGIN_FETCHES.inc()
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}{PART}")
        size = 0
        try:
            with open(part, "wb") as out:
                async for chunk in self.origin.stream(key):
                    out.write(chunk)
                    size += len(chunk)
            os.rename(part, target)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        ORIGIN_BYTES.inc(size)
        self._admit(key, size)

    def _admit(self, key: str, size: int) -> None:
        self._forget(key)
        self.sizes[key] = size
        self.total += size
        while self.total > self.max_bytes and len(self.sizes) > 1:
            oldest = next(iter(self.sizes))
            self.path(oldest).unlink(missing_ok=True)
            self._forget(oldest)
            EVICTIONS.inc()
        self._measure()

    def _forget(self, key: str) -> None:
        size = self.sizes.pop(key, None)
        if size is not None:
            self.total -= size
            self._measure()

    def _measure(self) -> None:
        CACHED_BYTES.set(self.total)
        CACHED_OBJECTS.set(len(self.sizes))


class CachedAssets:
    """The edge's media in S3 mode: published assets, through this instance's cache."""

    def __init__(self, cache: EdgeCache) -> None:
        self.cache = cache
        self._ladders: dict[str, Ladder] = {}

    @property
    def description(self) -> str:
        return f"{self.cache.origin.description} through {self.cache.folder}"

    async def open(self, media: MediaPath) -> int | None:
        """The file of a published asset (its master playlist is in the origin), or None."""
        if await self.ladder(media.asset_id) is None:
            return None
        return await self.cache.open(asset_key(media.asset_id, *media.file_parts))

    async def ladder(self, asset_id: str) -> Ladder | None:
        known = self._ladders.get(asset_id)
        if known is not None:
            return known
        fd = await self.cache.open(asset_key(asset_id, MASTER))
        if fd is None:
            return None
        with open(fd, "rb") as master:
            ladder = Ladder.parse(master.read().decode(errors="replace"))
        if len(self._ladders) >= LADDERS_KEPT:
            self._ladders.pop(next(iter(self._ladders)))
        self._ladders[asset_id] = ladder
        return ladder

    async def check(self) -> None:
        self.cache.folder.mkdir(parents=True, exist_ok=True)
