"""nginx as a caching edge in front of the S3 origin (deploy/nginx/edge_cache.conf and
edge_cache.js), against a real SeaweedFS: the signed URL is checked first, a segment comes
from the origin once and then from the cache (Range cut from it), a herd of concurrent misses
makes one origin request, a capped view reads its master playlist through the cache and keeps
to the cap, an unpublished asset is a 404, and with the origin stopped what is cached plays
while a miss is a 503 with a code. Installs nginx with apt-get when missing; with CI=true it
never skips."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cinemesh.contracts.signed_urls import sign
from cinemesh.runner.seaweed import SeaweedS3
from tests.edge.nginx import IN_CI, NginxEdge, NginxUnavailable
from tests.playback.media import parse_master
from tests.support.media_stores import s3_store

ASSET, UNPUBLISHED = "c1a2c3d4e5f60718", "c0ffee0000000001"


@pytest.fixture(scope="module")
def key() -> bytes:
    return secrets.token_urlsafe(32).encode()


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory, hls_package: Path) -> Iterator[SeaweedS3]:
    """This module's own SeaweedFS, readable without a signature (one test stops it)."""
    store = SeaweedS3(tmp_path_factory.mktemp("nginx-origin"), anonymous_read=True).start()
    asyncio.run(s3_store(store.env()).publish(ASSET, hls_package))
    yield store
    store.stop()


@pytest.fixture(scope="module")
def nginx(
    tmp_path_factory: pytest.TempPathFactory, origin: SeaweedS3, key: bytes
) -> Iterator[NginxEdge]:
    run_dir = tmp_path_factory.mktemp("nginx-cache-run")
    try:
        server = NginxEdge(
            media_root=run_dir,
            key=key,
            run_dir=run_dir,
            conf="edge_cache.conf",
            values={
                "EDGE_CACHE_DIR": str(run_dir / "cache"),
                "EDGE_CACHE_MAX": "64m",
                "EDGE_ORIGIN_HOST": origin.endpoint.removeprefix("http://"),
                "EDGE_ORIGIN_PATH": f"/{origin.bucket}/assets",
            },
        ).start()
    except NginxUnavailable as exc:
        if IN_CI:
            pytest.fail(f"CI must test the nginx caching edge: {exc}")
        pytest.skip(str(exc))
    yield server
    server.stop()


def url(
    nginx: NginxEdge,
    key: bytes,
    file: str = "master.m3u8",
    *,
    asset: str = ASSET,
    max_height: int | None = None,
) -> str:
    return nginx.url + sign(key, asset, int(time.time()) + 600, file, max_height=max_height)


def test_a_segment_comes_from_the_origin_once_then_from_the_cache(
    nginx: NginxEdge, key: bytes, hls_package: Path
) -> None:
    whole = (hls_package / "360p" / "seg_001.m4s").read_bytes()
    first = httpx.get(url(nginx, key, "360p/seg_001.m4s"), timeout=10)
    assert first.status_code == 200, first.text + nginx.errors()
    assert first.content == whole and first.headers["x-cache-status"] == "MISS"
    assert first.headers["content-type"] == "video/iso.segment"
    assert "immutable" in first.headers["cache-control"]
    assert first.headers["access-control-allow-origin"] == "*"
    again = httpx.get(url(nginx, key, "360p/seg_001.m4s"), timeout=10)
    assert again.content == whole and again.headers["x-cache-status"] == "HIT"
    part = httpx.get(url(nginx, key, "360p/seg_001.m4s"), headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole[10:20]
    master = httpx.get(url(nginx, key), timeout=10)
    assert master.status_code == 200 and "max-age=60" in master.headers["cache-control"]
    assert master.headers["content-type"] == "application/vnd.apple.mpegurl"


def test_concurrent_misses_for_one_segment_make_one_origin_request(
    nginx: NginxEdge, key: bytes, hls_package: Path
) -> None:
    target = url(nginx, key, "360p/seg_002.m4s")

    async def herd() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as c:
            return await asyncio.gather(*(c.get(target) for _ in range(50)))

    answers = asyncio.run(herd())
    assert {a.status_code for a in answers} == {200}
    assert {a.content for a in answers} == {(hls_package / "360p" / "seg_002.m4s").read_bytes()}
    statuses = [a.headers["x-cache-status"] for a in answers]
    assert statuses.count("MISS") == 1, statuses  # the rest waited on the lock: HIT


def test_a_bad_signature_is_refused_before_the_cache(nginx: NginxEdge, key: bytes) -> None:
    forged = nginx.url + sign(b"not-the-key", ASSET, int(time.time()) + 600, "180p/seg_000.m4s")
    expired = nginx.url + sign(key, ASSET, int(time.time()) - 1, "180p/seg_000.m4s")
    for refused in (forged, expired):
        answer = httpx.get(refused, timeout=10)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "FORBIDDEN"
        assert "x-cache-status" not in answer.headers
    status = httpx.get(url(nginx, key).replace("/e/", "/_origin/", 1), timeout=10).status_code
    assert status == 404, "the cache location is not reachable from outside"


def test_a_capped_view_keeps_to_its_cap_through_the_cache(nginx: NginxEdge, key: bytes) -> None:
    capped = httpx.get(url(nginx, key, max_height=180), timeout=10)
    assert capped.status_code == 200, capped.text + nginx.errors()
    assert [uri for _a, uri in parse_master(capped.text)] == ["180p/index.m3u8"]
    low = httpx.get(url(nginx, key, "180p/seg_000.m4s", max_height=180), timeout=10)
    assert low.status_code == 200
    high = httpx.get(url(nginx, key, "360p/seg_000.m4s", max_height=180), timeout=10)
    assert high.status_code == 403 and high.json()["error"]["code"] == "ABOVE_PLAN"


def test_an_asset_not_in_the_origin_is_a_404(nginx: NginxEdge, key: bytes) -> None:
    for cap in (None, 180):
        answer = httpx.get(url(nginx, key, "180p/seg_000.m4s", asset=UNPUBLISHED, max_height=cap))
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND"


def test_with_the_origin_down_the_cache_plays_and_a_miss_is_503(
    nginx: NginxEdge, key: bytes, origin: SeaweedS3
) -> None:
    cached = url(nginx, key, "180p/seg_001.m4s")
    assert httpx.get(cached, timeout=10).status_code == 200
    origin.stop()
    try:
        assert httpx.get(cached, timeout=10).status_code == 200, "cached content keeps playing"
        missed = httpx.get(url(nginx, key, "180p/seg_003.m4s"), timeout=30)
        assert missed.status_code == 503, missed.text
        assert missed.json()["error"]["code"] == "ORIGIN_UNAVAILABLE"
        assert missed.headers["retry-after"] == "2"
    finally:
        origin.start()
