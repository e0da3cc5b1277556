"""The edge as a cache in front of the S3 origin, the way an Open Connect appliance is: each
instance keeps the objects it served on its own disk, up to a byte limit, and asks the origin
only for what it does not hold.

- Most of the cache is what Open Connect's nightly fill would put there: at start and on a
  schedule, prefill.py plans up to FILL_SHARE of the byte limit with the objects likeliest to
  be played (plan_fill: a title's share of catalog's popularity times how often this edge was
  asked for that rendition's segment at that place), and no miss pushes those out until the
  next fill plans others. bench/origin_bench.py runs this same class over its simulated
  workload: 0.97-0.98x the oracle's origin offload at 0.5-10% of the catalog per edge (0.95x
  at 20% of a 1,000-title catalog, the fill reaching only the 500 most popular), where the
  demand-only policy below had 0.88-0.95x and no cache filled only on a miss could pass 0.94x
  at 10% (an object's first request at its edge is a miss).
- The rest is least recently used behind a frequency filter (TinyLFU's idea): every request
  is counted, the counts halve once AGING_PER_OBJECT requests per object held have passed
  (popularity ages), and a missed object enters only if it fits or was asked for more often
  than each object it would push out among the ADMISSION_PROBES least recently used; one that
  does not is served from memory and not kept. Segment popularity is steep (Zipf): plain LRU
  let every one-off request push out a popular segment (0.44-0.87x the oracle's offload in the
  bench). A segmented LRU and LFU with the same aging measured the same, W-TinyLFU and S3-FIFO
  worse (docs/deploy.md). A hit costs what it did: a count and a dict move. The page cache
  keeps the hottest objects in memory on top of the disk.
- A miss is served while it fills: the response streams the bytes as the origin sends them
  (fills.py), so its first byte waits for the origin's first chunk, not for the whole object;
  and the origin is asked once per object however many requests miss it at once (they all
  read the one fill).
- A fill is written to a hidden `.part` file and renamed when whole: an edge killed mid-fill
  leaves a `.part`, which is removed at start, and never a partial object that could be served.
- The signed URL is checked before any of this (server.py); an asset is served only once its
  master playlist is in the origin, which the encoder writes last."""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Hashable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge

from cinemesh.contracts.signed_urls import MediaPath
from cinemesh.platform.media_store import MASTER, MediaStore, OriginUnavailable, asset_key
from cinemesh.platform.observability import logger
from cinemesh.services.edge.fills import Fill, FillReader
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
NOT_KEPT = Counter(
    "cinemesh_edge_cache_not_kept_total",
    "Objects fetched for a miss and served but not kept (asked for less than what they would evict)",
)
# each answer's children looked up once, not per request (the segment path is the hot path)
CACHE_HITS, CACHE_MISSES = CACHE_REQUESTS.labels("hit"), CACHE_REQUESTS.labels("miss")
SERVED_FROM_CACHE = CACHE_BYTES_SERVED.labels("cache")
SERVED_FROM_ORIGIN = CACHE_BYTES_SERVED.labels("origin")
CACHED_BYTES = Gauge("cinemesh_edge_cache_bytes", "Bytes the edge cache holds")
CACHED_OBJECTS = Gauge("cinemesh_edge_cache_objects", "Objects the edge cache holds")
PART = ".part"
LADDERS_KEPT = 4096
AGING_PER_OBJECT = 30  # 10 forgot too soon: 0.90x the oracle at the smallest cache, 0.95x now
ADMISSION_PROBES = 128  # how many of the least recently used a newcomer is weighed against
AGING_MIN_OBJECTS = 64
FILL_SHARE = 0.9  # of the byte limit a fill ahead of demand may plan; misses keep the rest
WATCH_ON = 0.95  # a first fill's guess at how often a viewer goes on to the next segment


class Popularity:
    """How often each object was asked for lately: every request counts, and all counts halve
    once AGING_PER_OBJECT requests per object held have passed, so yesterday's hit fades."""

    def __init__(self) -> None:
        self.counts: dict[Hashable, int] = {}
        self.seen = 0

    def count(self, key: Hashable, *, held: int) -> None:
        self.seen += 1
        if self.seen >= AGING_PER_OBJECT * max(AGING_MIN_OBJECTS, held):
            self.counts = {k: c // 2 for k, c in self.counts.items() if c > 1}
            self.seen = 0
        self.counts[key] = self.counts.get(key, 0) + 1

    def of(self, key: Hashable) -> int:
        return self.counts.get(key, 0)


@dataclass
class CacheStats:
    """What this instance's cache has done since it started (the counters above, per edge)."""

    hits: int = 0
    misses: int = 0
    cache_bytes_served: int = 0  # served from the cache (hits)
    origin_bytes_served: int = 0  # served from a fill (misses)
    origin_fetches: int = 0
    origin_bytes: int = 0  # fetched from the origin (misses and fills ahead of demand)
    evictions: int = 0
    not_kept: int = 0  # misses served from a fill the cache did not keep (not popular enough)

    @property
    def hit_ratio(self) -> float | None:
        asked = self.hits + self.misses
        return round(self.hits / asked, 4) if asked else None

    @property
    def offload(self) -> float | None:
        """The share of the bytes served that did not come from the origin."""
        served = self.cache_bytes_served + self.origin_bytes_served
        return round(1 - self.origin_bytes / served, 4) if served else None


class Holdings:
    """Which objects the cache holds and which go out, without the files: the eviction and
    admission policy in one place (see the module's docstring), which EdgeCache keeps its disk
    to and bench/origin_bench.py simulates. Keys are any hashable; sizes in bytes.

    Two kinds of objects are held: those a miss brought (`recent`, least recently used first,
    behind the frequency filter) and those of the latest fill ahead of demand (`filled`, most
    valuable first), which a miss never pushes out; a fill that no longer plans an object hands
    it back to the misses' side, as the least recently used."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.sizes: dict[Hashable, int] = {}  # every object held
        self.recent: OrderedDict[Hashable, int] = OrderedDict()
        self.filled: OrderedDict[Hashable, int] = OrderedDict()
        self.planned: set[Hashable] = set()  # what the latest fill ahead of demand wants held
        self.total = 0
        self.popularity = Popularity()

    def asked(self, key: Hashable) -> bool:
        """Count a request for `key`; True when it is held (then it is the most recently used)."""
        self.popularity.count(key, held=len(self.sizes))
        if key in self.recent:
            self.recent.move_to_end(key)
            return True
        return key in self.filled

    def admit(self, key: Hashable, size: int, *, reserved: int = 0) -> list[Hashable] | None:
        """Whether a missed `key` is kept: it is if it fits beside what is held and `reserved`
        (fills under way), or if the objects asked for less often lately than it among the
        ADMISSION_PROBES least recently used free enough room; those are no longer held and
        are answered (to be deleted). None: not kept, nothing changed."""
        free = self.max_bytes - self.total - reserved
        if size <= free:
            return []
        wanted = self.popularity.of(key)
        victims = []
        for old, old_size in itertools.islice(self.recent.items(), ADMISSION_PROBES):
            if self.popularity.of(old) < wanted:  # least recently used first
                victims.append(old)
                free += old_size
                if size <= free:
                    break
        if size > free:
            return None
        for old in victims:
            self.drop(old)
        return victims

    def add(self, key: Hashable, size: int, *, reserved: int = 0) -> list[Hashable]:
        """`key` is held now (filled when the latest fill planned it, else the most recently
        used); answers those that went out to keep the total with `reserved` within the limit
        (never `key` itself)."""
        self.drop(key)
        self.sizes[key] = size
        (self.filled if key in self.planned else self.recent)[key] = size
        self.total += size
        return self.make_room(0, reserved=reserved, keep=key)

    def plan_fill(self, candidates: list[FillCandidate]) -> list[Hashable]:
        """The candidates a fill ahead of demand brings now, likeliest first, within FILL_SHARE
        of the limit (plan_fill): no miss pushes them out until the next fill plans others."""
        budget = int(self.max_bytes * FILL_SHARE)
        planned = plan_fill(candidates, popularity=self.popularity, budget=budget)
        self._plan(planned)
        return planned

    def _plan(self, keys: list[Hashable]) -> None:
        """The fill wants `keys` held, most valuable first: those held already are filled from
        now, and the earlier fill's others go back to the misses' side."""
        self.planned = set(keys)
        for old in [k for k in self.filled if k not in self.planned]:
            self.recent[old] = self.filled.pop(old)
            self.recent.move_to_end(old, last=False)
        for key in keys:
            if key in self.recent:
                self.filled[key] = self.recent.pop(key)

    def make_room(
        self, incoming: int, *, reserved: int = 0, keep: Hashable | None = None
    ) -> list[Hashable]:
        """Let the least recently used go, then the fill's least valuable, until `incoming`
        more bytes fit beside `reserved`, never `keep`; answers those that went."""
        gone = []
        while self.total + reserved + incoming > self.max_bytes:
            old = self._next_out(keep)
            if old is None:
                break
            self.drop(old)
            gone.append(old)
        return gone

    def drop(self, key: Hashable) -> None:
        size = self.sizes.pop(key, None)
        if size is not None:
            self.total -= size
            self.recent.pop(key, None)
            self.filled.pop(key, None)

    def _next_out(self, keep: Hashable | None) -> Hashable | None:
        for order in (iter(self.recent), reversed(self.filled)):
            for key in order:
                if key != keep:
                    return key
        return None


@dataclass(frozen=True)
class FillCandidate:
    """An object a fill ahead of demand could bring: its title's share of the plays (catalog's
    popularity), its rendition and place in it (0: the init segment), its size in bytes."""

    key: Hashable
    title_share: float
    rendition: str
    position: int
    size: int


def plan_fill(
    candidates: list[FillCandidate], *, popularity: Popularity, budget: int
) -> list[Hashable]:
    """The candidates most likely to be asked for that fit in `budget` bytes, likeliest first.
    An object's chance is its title's share times how often this edge was asked for that
    rendition's object at that place, per share of the titles, as its own counts say (pooled
    over the titles, so that a title nobody has opened yet is ranked too); before any count,
    a viewer goes on to each next segment with the chance WATCH_ON, whatever the rendition.
    Ranked by chance, not by chance per byte: the goal is the bytes offloaded."""
    asked: dict[tuple[str, int], float] = defaultdict(float)
    shares: dict[tuple[str, int], float] = defaultdict(float)
    for c in candidates:
        asked[c.rendition, c.position] += popularity.of(c.key)
        shares[c.rendition, c.position] += c.title_share
    learned = any(asked.values())

    def chance(c: FillCandidate) -> float:
        shape = (c.rendition, c.position)
        return c.title_share * (asked[shape] / shares[shape] if learned else WATCH_ON**c.position)

    planned, used = [], 0
    for c in sorted(candidates, key=chance, reverse=True):
        if chance(c) <= 0:
            break  # nobody here watches that rendition's segment there: not worth a fill
        if used + c.size <= budget:
            planned.append(c.key)
            used += c.size
    return planned


class EdgeCache:
    """Objects of the origin on this instance's disk, at most `max_bytes` of them (an object
    larger than the whole cache is never kept, unless filled ahead of demand: then until the
    next fill evicts it)."""

    def __init__(self, folder: Path, *, max_bytes: int, origin: MediaStore) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.origin = origin
        self.holdings = Holdings(max_bytes)
        self.reserved = 0  # the sizes of the fills under way, whose part files are on disk
        self.stats = CacheStats()
        self._fills: dict[str, Fill] = {}

    @property
    def sizes(self) -> dict[Hashable, int]:
        """The objects held and their sizes."""
        return self.holdings.sizes

    @property
    def total(self) -> int:
        """The bytes held (fills under way not counted: see `reserved`)."""
        return self.holdings.total

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
        """A descriptor of the whole object, filled from the origin on a miss; None when the
        origin has no such object. OriginUnavailable when the origin cannot be asked."""
        opened = await self.open_streaming(key)
        if not isinstance(opened, FillReader):
            return opened
        try:
            return await opened.finished()
        except FileNotFoundError:
            os.close(opened.fd)
            return None
        except BaseException:
            os.close(opened.fd)
            raise

    async def open_streaming(self, key: str) -> int | FillReader | None:
        """A descriptor of the cached object (a hit); on a miss, a reader of the fill bringing
        it from the origin (one fill however many miss it at once), so that it is served while
        it arrives; None when the origin has no such object."""
        fd = self._open_cached(key)
        if fd is not None:
            size = self.sizes[key]
            CACHE_HITS.inc()
            SERVED_FROM_CACHE.inc(size)
            self.stats.hits += 1
            self.stats.cache_bytes_served += size
            return fd
        CACHE_MISSES.inc()
        self.stats.misses += 1
        fill = self._fill_of(key)
        try:
            reader = await fill.join()
        except FileNotFoundError:
            return None
        size = fill.size or 0  # known once the fill is joined
        SERVED_FROM_ORIGIN.inc(size)
        self.stats.origin_bytes_served += size
        return reader

    async def warm(self, key: str) -> bool:
        """Fill `key` ahead of demand unless it is cached; False when the origin has none."""
        if key in self.sizes:
            return True
        return await self._fill(key, forced=True)

    def plan_fill(self, candidates: list[FillCandidate]) -> list[Hashable]:
        """Which candidates a fill ahead of demand brings now: see Holdings.plan_fill."""
        return self.holdings.plan_fill(candidates)

    def report(self) -> dict[str, Any]:
        """This instance's cache in numbers, for its readiness answer and the ops page."""
        return {
            **asdict(self.stats),
            "bytes": self.total,
            "objects": len(self.sizes),
            "max_bytes": self.max_bytes,
            "filling": len(self._fills),
            "hit_ratio": self.stats.hit_ratio,
            "offload": self.stats.offload,
        }

    def _open_cached(self, key: str) -> int | None:
        """A descriptor of `key` when it is held; every call counts as a request for it."""
        if not self.holdings.asked(key):
            return None
        try:
            return os.open(self.path(key), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            self.holdings.drop(key)
            self._measure()
            return None

    async def _fill(self, key: str, *, forced: bool = False) -> bool:
        """Wait for the whole of `key`'s fill; False when the origin has none. `forced`: kept
        in the cache however rarely it was asked for."""
        fill = self._fill_of(key)
        fill.forced = fill.forced or forced
        assert fill.task is not None
        await asyncio.shield(fill.task)  # a viewer going away does not cancel the others' fill
        try:
            fill.raise_error()
        except FileNotFoundError:
            return False
        return True

    def _fill_of(self, key: str) -> Fill:
        """The fill of `key` under way, or a new one."""
        fill = self._fills.get(key)
        if fill is None:
            target = self.path(key)
            part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}{PART}")
            fill = self._fills[key] = Fill(key, part)
            fill.task = asyncio.create_task(self._fetch(fill))
            fill.task.add_done_callback(lambda _done: self._fills.pop(key, None))
        return fill

    async def _fetch(self, fill: Fill) -> None:
        """Bring one object from the origin into the cache; what went wrong is the fill's."""
        ORIGIN_FETCHES.inc()
        self.stats.origin_fetches += 1
        target = self.path(fill.key)
        reserved = 0
        try:
            found = await self.origin.fetch(fill.key)
            victims = (
                []
                if fill.forced
                else self.holdings.admit(fill.key, found.size, reserved=self.reserved)
            )
            kept = victims is not None
            if victims is not None:
                self._evicted(victims)
                target.parent.mkdir(parents=True, exist_ok=True)
                flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                fill.fd = os.open(fill.part, flags, 0o644)
                # the part file counts against the limit from now
                self._evicted(self.holdings.make_room(found.size, reserved=self.reserved))
                reserved = found.size
                self.reserved += reserved
            else:  # served to those who asked, from memory, and not kept
                fill.fd = os.memfd_create("edge-fill", os.MFD_CLOEXEC)
                NOT_KEPT.inc()
                self.stats.not_kept += 1
            fill.size = found.size
            fill.moved()
            async for chunk in found.chunks:
                _write_all(fill.fd, chunk)
                fill.written += len(chunk)
                ORIGIN_BYTES.inc(len(chunk))
                self.stats.origin_bytes += len(chunk)
                fill.moved()
            if fill.written != found.size:
                raise OriginUnavailable(f"{fill.key}: {fill.written} of {found.size} bytes")
            if not kept:
                return
            os.rename(fill.part, target)
            self.reserved -= reserved
            reserved = 0
            self._admit(fill.key, fill.written)
        except BaseException as exc:
            fill.part.unlink(missing_ok=True)
            fill.error = exc
            if not isinstance(exc, (FileNotFoundError, OriginUnavailable, OSError)):
                log.warning("edge fill failed", key=fill.key, error=repr(exc))
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.reserved -= reserved
            fill.finish()

    def _admit(self, key: str, size: int) -> None:
        self._evicted(self.holdings.add(key, size, reserved=self.reserved))

    def _evicted(self, keys: list[Hashable]) -> None:
        """Delete the files of objects the holdings let go."""
        for key in keys:
            self.path(str(key)).unlink(missing_ok=True)
            EVICTIONS.inc()
            self.stats.evictions += 1
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

    async def open(self, media: MediaPath) -> int | FillReader | None:
        """The file of a published asset (its master playlist is in the origin), or None."""
        if await self.ladder(media.asset_id) is None:
            return None
        return await self.cache.open_streaming(asset_key(media.asset_id, *media.file_parts))

    def kept(self, _media: MediaPath) -> None:
        """Nothing is kept open here: an evicted object's bytes must go at once, and every
        request counts in the cache's numbers, so the application answers them all."""
        return None

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

    def report(self) -> dict[str, Any]:
        return self.cache.report()


def _write_all(fd: int, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view) :]
