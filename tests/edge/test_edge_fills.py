"""A cache miss is served while it fills (services/edge/fills.py), in process against an origin
whose bytes come when the test lets them: the first bytes reach the viewer before the origin
has sent the rest, every viewer who misses at once reads the one fetch, a Range on a miss gets
its part, an origin that fails mid-object cuts the responses short and caches nothing, and a
missing object is a 404."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cinemesh.platform.media_store import OriginObject, OriginUnavailable
from cinemesh.services.edge.cache import EdgeCache
from cinemesh.services.edge.server import send_file

CHUNK = 64 * 1024
OBJECT = bytes(range(256)) * (4 * CHUNK // 256)  # four chunks


class GatedOrigin:
    """An origin that sends its first chunk at once and each next one when `release` is set;
    counts its fetches."""

    description = "gated test origin"

    def __init__(self, *, fail_after: int | None = None) -> None:
        self.release = asyncio.Event()
        self.fetches = 0
        self.fail_after = fail_after

    async def fetch(self, key: str) -> OriginObject:
        if not key.endswith(".m4s"):
            raise FileNotFoundError(key)
        self.fetches += 1
        return OriginObject(size=len(OBJECT), chunks=self._chunks())

    async def _chunks(self) -> AsyncIterator[bytes]:
        for n, start in enumerate(range(0, len(OBJECT), CHUNK)):
            if n:
                await self.release.wait()
            if self.fail_after is not None and n >= self.fail_after:
                raise OriginUnavailable("the origin went away")
            yield OBJECT[start : start + CHUNK]


async def serve(cache: EdgeCache) -> TestServer:
    async def media(request: web.Request) -> web.StreamResponse:
        opened = await cache.open_streaming(request.match_info["key"])
        if opened is None:
            return web.Response(status=404)
        headers = {"Content-Type": "video/iso.segment"}
        if isinstance(opened, int):
            return await send_file(request, opened, headers)
        return await opened.send(request, headers)

    app = web.Application()
    app.router.add_get("/{key:.*}", media)
    server = TestServer(app)
    await server.start_server()
    return server


@pytest.fixture
def cache_folder(tmp_path: Path) -> Path:
    return tmp_path / "cache"


async def test_the_first_bytes_of_a_miss_arrive_before_the_origin_has_sent_the_rest(
    cache_folder: Path,
) -> None:
    origin = GatedOrigin()
    cache = EdgeCache(cache_folder, max_bytes=16 * len(OBJECT), origin=origin)  # type: ignore[arg-type]
    server = await serve(cache)
    try:
        async with aiohttp.ClientSession() as client:
            url = server.make_url("/a/seg_000.m4s")
            viewers = [await asyncio.wait_for(client.get(url), 5) for _ in range(3)]
            for viewer in viewers:
                assert viewer.status == 200 and viewer.content_length == len(OBJECT)
                first = await asyncio.wait_for(viewer.content.readexactly(CHUNK), 5)
                assert first == OBJECT[:CHUNK], "the first chunk came before the origin finished"
            assert not (cache_folder / "a" / "seg_000.m4s").exists(), "still filling"
            ranged = asyncio.ensure_future(
                client.get(server.make_url("/a/seg_000.m4s"), headers={"Range": "bytes=5-9"})
            )
            origin.release.set()
            for viewer in viewers:
                assert OBJECT[:CHUNK] + await viewer.read() == OBJECT
            answer = await ranged
            assert answer.status == 206 and await answer.read() == OBJECT[5:10]
            hit = await client.get(server.make_url("/a/seg_000.m4s"))
            assert await hit.read() == OBJECT
        assert origin.fetches == 1, "one origin fetch for every viewer who missed"
        assert (cache_folder / "a" / "seg_000.m4s").read_bytes() == OBJECT
        assert cache.total == len(OBJECT)
    finally:
        await server.close()


async def test_an_origin_failing_mid_object_cuts_the_response_short_and_caches_nothing(
    cache_folder: Path,
) -> None:
    origin = GatedOrigin(fail_after=2)
    cache = EdgeCache(cache_folder, max_bytes=16 * len(OBJECT), origin=origin)  # type: ignore[arg-type]
    server = await serve(cache)
    try:
        async with aiohttp.ClientSession() as client:
            viewer = await client.get(server.make_url("/a/seg_001.m4s"))
            assert viewer.status == 200
            origin.release.set()
            with pytest.raises(aiohttp.ClientPayloadError):
                await viewer.read()
            missing = await client.get(server.make_url("/a/master.m3u8"))
            assert missing.status == 404
        assert cache.total == 0 and not cache.sizes
        assert [p for p in cache_folder.rglob("*") if p.is_file()] == [], "no part left, none kept"
    finally:
        await server.close()


async def test_a_viewer_leaving_mid_miss_does_not_stop_the_fill(cache_folder: Path) -> None:
    origin = GatedOrigin()
    cache = EdgeCache(cache_folder, max_bytes=16 * len(OBJECT), origin=origin)  # type: ignore[arg-type]
    server = await serve(cache)
    try:
        async with aiohttp.ClientSession() as client:
            viewer = await client.get(server.make_url("/b/seg_000.m4s"))
            await viewer.content.readexactly(CHUNK)
            viewer.close()
        origin.release.set()
        for _ in range(100):
            if "b/seg_000.m4s" in cache.sizes:
                break
            await asyncio.sleep(0.02)
        assert (cache_folder / "b" / "seg_000.m4s").read_bytes() == OBJECT
        assert os.listdir(cache_folder / "b") == ["seg_000.m4s"]
    finally:
        await server.close()


async def test_head_and_conditional_requests_on_a_miss_are_answered_from_the_whole_object(
    cache_folder: Path,
) -> None:
    origin = GatedOrigin()
    origin.release.set()
    cache = EdgeCache(cache_folder, max_bytes=16 * len(OBJECT), origin=origin)  # type: ignore[arg-type]
    server = await serve(cache)
    try:
        async with aiohttp.ClientSession() as client:
            head = await client.head(server.make_url("/c/seg_000.m4s"))
            assert head.status == 200 and head.content_length == len(OBJECT)
            etag = head.headers["ETag"]
            unchanged = await client.get(
                server.make_url("/c/seg_001.m4s"), headers={"If-None-Match": '"other"'}
            )
            assert unchanged.status == 200 and await unchanged.read() == OBJECT
            hit = await client.get(
                server.make_url("/c/seg_000.m4s"), headers={"If-None-Match": etag}
            )
            assert hit.status == 304, "the ETag a miss answered is the cached object's"
        assert origin.fetches == 2
    finally:
        await server.close()


async def test_a_rare_miss_is_served_but_does_not_push_out_what_is_asked_for_more(
    cache_folder: Path,
) -> None:
    origin = GatedOrigin()
    origin.release.set()
    cache = EdgeCache(cache_folder, max_bytes=2 * len(OBJECT), origin=origin)  # type: ignore[arg-type]
    server = await serve(cache)

    async def get(client: aiohttp.ClientSession, path: str) -> None:
        async with client.get(server.make_url(path)) as answer:
            assert answer.status == 200 and await answer.read() == OBJECT

    try:
        async with aiohttp.ClientSession() as client:
            for path in ("/p/seg_000.m4s", "/p/seg_001.m4s"):
                for _ in range(3):
                    await get(client, path)
            assert origin.fetches == 2 and set(cache.sizes) == {"p/seg_000.m4s", "p/seg_001.m4s"}
            await get(client, "/q/seg_000.m4s")  # once: served, not kept
            assert origin.fetches == 3 and "q/seg_000.m4s" not in cache.sizes
            assert cache.stats.not_kept == 1 and cache.total <= cache.max_bytes
            for n in range(4):  # asked for more often than the least recently used: it enters
                await get(client, "/q/seg_001.m4s")
                assert origin.fetches == 4 + n
            await get(client, "/q/seg_001.m4s")
            assert origin.fetches == 7, "now a hit"
            assert set(cache.sizes) == {"p/seg_001.m4s", "q/seg_001.m4s"}, "LRU went out"
        fd = await cache.open("r/seg_000.m4s")  # whole, from memory, for the playlist reader
        assert fd is not None
        with open(fd, "rb") as whole:
            assert whole.read() == OBJECT
        on_disk = sorted(
            p.relative_to(cache_folder).as_posix() for p in cache_folder.rglob("*.m4s")
        )
        assert on_disk == ["p/seg_001.m4s", "q/seg_001.m4s"] and cache.total <= cache.max_bytes
    finally:
        await server.close()
