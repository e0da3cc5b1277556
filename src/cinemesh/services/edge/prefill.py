"""Filling ahead of demand, as Open Connect fills its appliances before the evening: at start
and every `edge_prefill_every_s`, the edge asks catalog for its most popular and its newest
titles, keeps the assets that rendezvous hashing steers to this edge (the ranking playback
uses, platform/steering.py), and puts each one's master playlist and, for every rendition, its
playlist, init segment and first segments into the cache, so a popular title's first play
starts from cache. A title nobody has opened yet costs its first few segments of disk."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import Counter

from cinemesh.contracts.signed_urls import FILE_PART
from cinemesh.platform.http import ServiceUnavailable
from cinemesh.platform.media_store import OriginUnavailable, asset_key
from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.steering import rendezvous
from cinemesh.services.edge.cache import CachedAssets
from cinemesh.services.edge.playlists import Ladder

log = logger("cinemesh.edge.prefill")
PREFILLED = Counter(
    "cinemesh_edge_prefill_objects_total", "Objects the edge holds from a fill ahead of demand"
)
FIRST_FILL_AFTER_S = 2.0  # registered with the registry first, so the edges see each other
ORDERS = ("popularity", "year")  # what is watched most, and the new releases


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
        """Fill the assets steered here; answers how many objects the cache now holds of them."""
        wanted = await self._popular_assets()
        me = self.runtime.me.url
        edges = [i.url for i in await self.runtime.discovery.instances("edge")]
        edges = edges if me in edges else [*edges, me]
        mine = [asset_id for asset_id in wanted if rendezvous(asset_id, edges)[0] == me]
        counts = [await self._fill_asset(asset_id) for asset_id in mine]
        return sum(counts)

    async def _popular_assets(self) -> list[str]:
        catalog = self.runtime.clients("catalog")
        ids: list[str] = []
        for order in ORDERS:
            listed = await catalog.request(
                "GET", "/v1/titles", params={"sort": order, "limit": self.titles}
            )
            if listed.ok:
                playable = [t["id"] for t in listed.json()["items"] if t.get("playable")]
                ids += [title_id for title_id in playable if title_id not in ids]
        assets: list[str] = []
        for title_id in ids:
            found = await catalog.request("GET", f"/v1/titles/{title_id}")
            assets += _asset_ids(found.json()) if found.ok else []
        return assets

    async def _fill_asset(self, asset_id: str) -> int:
        ladder = await self.assets.ladder(asset_id)
        if ladder is None:
            return 0
        held = 1
        for playlist_uri in variant_playlists(ladder):
            playlist = await self._held(asset_id, playlist_uri)
            if playlist is None:
                continue
            held += 1
            folder = playlist_uri.rsplit("/", 1)[0]
            for name in first_files(playlist.decode(errors="replace"), self.segments):
                held += await self._held(asset_id, f"{folder}/{name}") is not None
        return held

    async def _held(self, asset_id: str, uri: str) -> bytes | None:
        """Put one file of the asset in the cache (unless it is there); its bytes, or None."""
        parts = uri.split("/")
        if not all(FILE_PART.match(part) for part in parts):
            return None
        key = asset_key(asset_id, *parts)
        cached_already = key in self.assets.cache.sizes
        if not await self.assets.cache.warm(key):
            return None
        if not cached_already:
            PREFILLED.inc()
        try:
            return self.assets.cache.path(key).read_bytes()
        except OSError:
            return None


def _asset_ids(title: dict[str, Any]) -> list[str]:
    """The title's asset and, for a series, each episode's."""
    linked = [title.get("asset")]
    for season in title.get("seasons", []):
        linked += [episode.get("asset") for episode in season.get("episodes", [])]
    return [asset["asset_id"] for asset in linked if asset]


def variant_playlists(ladder: Ladder) -> list[str]:
    """The media playlist URIs a master playlist names."""
    lines = [line.strip() for line in ladder.master.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def first_files(media_playlist: str, segments: int) -> list[str]:
    """A media playlist's init segment and its first `segments` media segments."""
    init: list[str] = []
    media: list[str] = []
    for line in (line.strip() for line in media_playlist.splitlines()):
        if line.startswith("#EXT-X-MAP:") and 'URI="' in line:
            init = [line.split('URI="', 1)[1].split('"', 1)[0]]
        elif line and not line.startswith("#") and len(media) < segments:
            media.append(line)
    return init + media
