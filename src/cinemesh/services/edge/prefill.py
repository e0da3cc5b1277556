"""Filling ahead of demand, as Open Connect fills its appliances before the evening: at start
and every `edge_prefill_every_s`, the edge asks catalog for its most popular and its newest
titles with their popularity, keeps the assets that rendezvous hashing steers to this edge (the
ranking playback uses, platform/steering.py), reads each one's master and media playlists, and
fills the objects likeliest to be played (cache.py's plan_fill: the title's share of the plays
times what this edge's own counts say of that rendition's segment at that place) up to
FILL_SHARE of the cache, at most `segments` into each rendition. Those stay until the next fill
plans others, so a popular title's first play, and most of its bytes, come from cache."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from prometheus_client import Counter

from cinemesh.contracts.signed_urls import FILE_PART
from cinemesh.platform.http import ServiceUnavailable
from cinemesh.platform.media_store import OriginUnavailable, asset_key
from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.steering import rendezvous
from cinemesh.services.edge.cache import CachedAssets, FillCandidate
from cinemesh.services.edge.playlists import Ladder

log = logger("cinemesh.edge.prefill")
PREFILLED = Counter(
    "cinemesh_edge_prefill_objects_total", "Objects the edge holds from a fill ahead of demand"
)
FIRST_FILL_AFTER_S = 2.0  # registered with the registry first, so the edges see each other
ORDERS = ("popularity", "year")  # what is watched most, and the new releases
BANDWIDTH = re.compile(r"[:,]BANDWIDTH=(\d+)")
PAGE = 200  # catalog's largest page
INIT_BYTES = 2048  # an init segment's size, about (the fill's budget counts it)


class Prefill:
    def __init__(
        self,
        runtime: ServiceRuntime,
        assets: CachedAssets,
        *,
        titles: int,
        segments: int,
        every_s: float,
    ) -> None:
        self.runtime = runtime
        self.assets = assets
        self.titles = titles
        self.segments = segments
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run_forever(), name="edge-prefill")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def run_forever(self) -> None:
        await asyncio.sleep(FIRST_FILL_AFTER_S)
        while True:
            try:
                filled = await self.fill_once()
                log.debug("prefill done", objects=filled)
            except (ServiceUnavailable, OriginUnavailable) as exc:
                log.warning("prefill skipped", error=str(exc))
            await asyncio.sleep(self.every_s)

    async def fill_once(self) -> int:
        """Fill the likeliest objects of the assets steered here; answers how many it planned."""
        shares = await self._popular_assets()
        me = self.runtime.me.url
        edges = [i.url for i in await self.runtime.discovery.instances("edge")]
        edges = edges if me in edges else [*edges, me]
        candidates: list[FillCandidate] = []
        for asset_id, share in shares.items():
            if rendezvous(asset_id, edges)[0] == me:
                candidates += await self._candidates(asset_id, share)
        planned = self.assets.cache.plan_fill(candidates)
        for key in planned:
            held = key in self.assets.cache.sizes
            if await self.assets.cache.warm(str(key)) and not held:
                PREFILLED.inc()
        return len(planned)

    async def _popular_assets(self) -> dict[str, float]:
        """The assets of catalog's most popular and newest titles, each with its title's share
        of their popularity (a title with none counts as the least popular one listed)."""
        catalog = self.runtime.clients("catalog")
        popularity: dict[str, float] = {}
        for order in ORDERS:
            for offset in range(0, self.titles, PAGE):
                limit = min(PAGE, self.titles - offset)
                params = {"sort": order, "limit": limit, "offset": offset}
                listed = await catalog.request("GET", "/v1/titles", params=params)
                items = listed.json()["items"] if listed.ok else []
                for title in items:
                    if title.get("playable"):
                        popularity.setdefault(title["id"], float(title.get("popularity") or 0))
                if len(items) < limit:
                    break
        shares = _shares(popularity)
        assets: dict[str, float] = {}
        for title_id, share in shares.items():
            found = await catalog.request("GET", f"/v1/titles/{title_id}")
            linked = _asset_ids(found.json()) if found.ok else []
            assets |= {asset_id: share / len(linked) for asset_id in linked}
        return assets

    async def _candidates(self, asset_id: str, share: float) -> list[FillCandidate]:
        """The asset's init and first media segments of every rendition, sized by its bitrate."""
        ladder = await self.assets.ladder(asset_id)
        if ladder is None:
            return []
        found = []
        for uri, bandwidth in variant_playlists(ladder).items():
            playlist = await self._held(asset_id, uri)
            if playlist is None:
                continue
            folder = uri.rsplit("/", 1)[0]
            files = first_files(playlist.decode(errors="replace"), self.segments)
            for position, (name, seconds) in enumerate(files):
                key = self._key(asset_id, f"{folder}/{name}")
                size = int(bandwidth * seconds / 8) if seconds else INIT_BYTES
                if key is not None:
                    found.append(FillCandidate(key, share, folder, position, size))
        return found

    def _key(self, asset_id: str, uri: str) -> str | None:
        parts = uri.split("/")
        return asset_key(asset_id, *parts) if all(FILE_PART.match(p) for p in parts) else None

    async def _held(self, asset_id: str, uri: str) -> bytes | None:
        """Put one file of the asset in the cache (unless it is there); its bytes, or None."""
        key = self._key(asset_id, uri)
        if key is None or not await self.assets.cache.warm(key):
            return None
        try:
            return self.assets.cache.path(key).read_bytes()
        except OSError:
            return None


def _shares(popularity: dict[str, float]) -> dict[str, float]:
    floor = min((p for p in popularity.values() if p > 0), default=1.0)
    floored = {title_id: max(p, floor) for title_id, p in popularity.items()}
    total = sum(floored.values())
    return {title_id: p / total for title_id, p in floored.items()}


def _asset_ids(title: dict[str, Any]) -> list[str]:
    """The title's asset and, for a series, each episode's."""
    linked = [title.get("asset")]
    for season in title.get("seasons", []):
        linked += [episode.get("asset") for episode in season.get("episodes", [])]
    return [asset["asset_id"] for asset in linked if asset]


def variant_playlists(ladder: Ladder) -> dict[str, int]:
    """The media playlist URIs a master playlist names, each with its BANDWIDTH (bits/s)."""
    found: dict[str, int] = {}
    bandwidth = 0
    for line in (line.strip() for line in ladder.master.splitlines()):
        if line.startswith("#EXT-X-STREAM-INF:"):
            match = BANDWIDTH.search(line)
            bandwidth = int(match.group(1)) if match else 0
        elif line and not line.startswith("#"):
            found[line] = bandwidth
    return found


def first_files(media_playlist: str, segments: int) -> list[tuple[str, float]]:
    """A media playlist's init segment (0 s) and its first `segments` media segments, each with
    its duration in seconds."""
    init: list[tuple[str, float]] = []
    media: list[tuple[str, float]] = []
    seconds = 0.0
    for line in (line.strip() for line in media_playlist.splitlines()):
        if line.startswith("#EXT-X-MAP:") and 'URI="' in line:
            init = [(line.split('URI="', 1)[1].split('"', 1)[0], 0.0)]
        elif line.startswith("#EXTINF:"):
            seconds = float(line[len("#EXTINF:") :].split(",", 1)[0] or 0)
        elif line and not line.startswith("#") and len(media) < segments:
            media.append((line, seconds))
    return init + media
