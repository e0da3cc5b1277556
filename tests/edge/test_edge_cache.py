"""An edge in front of an S3 origin (a real SeaweedFS) is a cache: a segment comes from the
origin once and then from the edge's disk, however many ask for it at once; the cache keeps to
its byte limit; nothing reaches the origin before the signed URL is checked; a half-published
asset or a half-written fill is never served; with the origin down, what is cached plays
while a miss is a clear 503 until the origin is back (no restart of anything); and a popular
title's first segments are in the cache before anyone plays it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import obstore
import pytest

from cinemesh.contracts.media import AssetReady
from cinemesh.contracts.signed_urls import load_edge_key, sign
from cinemesh.runner.local import LocalPlatform
from cinemesh.runner.seaweed import SeaweedS3
from tests.encoder.conftest import create_title
from tests.playback.media import DURATION_S, publish, renditions
from tests.support.backends import EmbeddedNats, make_backend
from tests.support.media_stores import publish_asset, s3_store, store_env
from tests.support.metrics import sample_value
from tests.support.users import admin

CACHE_BYTES = 1024**2  # the smallest cache the edge takes: a few of the test assets' worth
SEGMENTS = [f"{r}/seg_{n:03d}.m4s" for r in ("180p", "360p") for n in range(4)]
SERVICES = ["registry", "identity", "catalog", "gateway", "edge"]  # catalog knows what is popular
PREFILLED_SEGMENTS = 2


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """This module's own SeaweedFS: one test stops and restarts it."""
    store = SeaweedS3(tmp_path_factory.mktemp("origin")).start()
    yield store
    store.stop()


@pytest.fixture(scope="module")
def edge_platform(
    origin: SeaweedS3, embedded_nats: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPlatform]:
    backend = make_backend("sqlite", embedded_nats_url=embedded_nats.url)
    env = {
        **backend.env,
        **store_env("s3", origin),
        "CINEMESH_EDGE_CACHE_BYTES": str(CACHE_BYTES),
        "CINEMESH_EDGE_PREFILL_EVERY_S": "1",
        "CINEMESH_EDGE_PREFILL_SEGMENTS": str(PREFILLED_SEGMENTS),
    }
    data_dir = tmp_path_factory.mktemp("edge-cache")
    (data_dir / ".seeded").touch()  # no demo catalog: the titles here are the tests' own
    running = LocalPlatform(data_dir, services=SERVICES, env=env).start(timeout_s=120)
    yield running
    running.stop()


class Edge:
    """One edge instance of the platform, with signed URLs and its origin counters."""

    def __init__(self, platform: LocalPlatform) -> None:
        self.platform = platform
        self.key = load_edge_key(platform.data_dir, "")

    @property
    def url(self) -> str:
        return self.platform.url_of("edge")

    def signed(self, asset_id: str, file: str = "master.m3u8") -> str:
        return self.url + sign(self.key, asset_id, int(time.time()) + 600, file)

    def fetches(self) -> float:
        return sample_value(self.url, "cinemesh_edge_origin_fetches_total")

    @property
    def cache_folder(self) -> Path:
        return self.platform.data_dir / "edge-cache" / "edge-0"

    def cached_bytes(self) -> int:
        folder = self.platform.data_dir / "edge-cache"
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def edge(edge_platform: LocalPlatform) -> Edge:
    return Edge(edge_platform)


def new_asset(platform: LocalPlatform, package: Path) -> str:
    asset_id = f"a{uuid.uuid4().hex[:16]}"
    publish_asset(platform.env, platform.data_dir, asset_id, package)
    return asset_id


def test_a_segment_comes_from_the_origin_once_then_from_the_cache(
    edge: Edge, edge_platform: LocalPlatform, hls_package: Path
) -> None:
    asset_id = new_asset(edge_platform, hls_package)
    before = edge.fetches()
    first = httpx.get(edge.signed(asset_id, "360p/seg_001.m4s"), timeout=10)
    assert first.status_code == 200, first.text
    assert first.content == (hls_package / "360p" / "seg_001.m4s").read_bytes()
    assert edge.fetches() == before + 2, "the master playlist (is it published?) and the segment"
    again = httpx.get(edge.signed(asset_id, "360p/seg_001.m4s"), timeout=10)
    ranged = httpx.get(
        edge.signed(asset_id, "360p/seg_001.m4s"), headers={"Range": "bytes=10-19"}, timeout=10
    )
    assert again.content == first.content and ranged.content == first.content[10:20]
    assert edge.fetches() == before + 2, "hits do not reach the origin"
    assert sample_value(edge.url, "cinemesh_edge_cache_requests_total", result="hit") >= 2


def test_two_hundred_concurrent_misses_make_one_origin_fetch(
    edge: Edge, edge_platform: LocalPlatform, hls_package: Path
) -> None:
    asset_id = new_asset(edge_platform, hls_package)
    assert httpx.get(edge.signed(asset_id), timeout=10).status_code == 200  # master cached
    url = edge.signed(asset_id, "360p/seg_002.m4s")
    before = edge.fetches()

    async def herd() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            return await asyncio.gather(*(client.get(url) for _ in range(200)))

    answers = asyncio.run(herd())
    assert {a.status_code for a in answers} == {200}
    assert {a.content for a in answers} == {(hls_package / "360p" / "seg_002.m4s").read_bytes()}
    assert edge.fetches() == before + 1


def test_the_cache_keeps_to_its_byte_limit_and_keeps_what_is_asked_for_most(
    edge: Edge, edge_platform: LocalPlatform, hls_package: Path
) -> None:
    assets = [new_asset(edge_platform, hls_package) for _ in range(4)]
    catalog = sum((hls_package / s).stat().st_size for s in SEGMENTS) * len(assets)
    assert catalog > CACHE_BYTES, "the catalog is larger than the cache"
    popular = edge.signed(assets[0], SEGMENTS[0])
    for _ in range(8):
        assert httpx.get(popular, timeout=10).status_code == 200
    for asset_id in assets:  # a churn over more bytes than the cache holds
        for segment in SEGMENTS:
            for _ in range(2):
                assert httpx.get(edge.signed(asset_id, segment), timeout=10).status_code == 200
                assert edge.cached_bytes() <= CACHE_BYTES
    assert sample_value(edge.url, "cinemesh_edge_cache_not_kept_total") > 0, "served, not kept"
    hot = SEGMENTS[:4]  # then one title's 180p grows popular: it pushes out the churn
    for segment in hot:
        for _ in range(4):
            assert httpx.get(edge.signed(assets[-1], segment), timeout=10).status_code == 200
            assert edge.cached_bytes() <= CACHE_BYTES
    assert sample_value(edge.url, "cinemesh_edge_cache_evictions_total") > 0
    held = edge.cache_folder / "assets"
    for asset_id, segment in ((assets[0], SEGMENTS[0]), (assets[-1], hot[-1])):
        before = edge.fetches()
        assert httpx.get(edge.signed(asset_id, segment), timeout=10).status_code == 200
        kept = sorted(p.relative_to(held).as_posix() for p in held.rglob("*.m4s"))
        assert edge.fetches() == before, f"{asset_id}/{segment} stayed through the churn: {kept}"


def test_a_bad_signature_is_refused_before_the_origin_is_asked(
    edge: Edge, edge_platform: LocalPlatform, hls_package: Path
) -> None:
    asset_id = new_asset(edge_platform, hls_package)
    before = edge.fetches()
    good = sign(edge.key, asset_id, int(time.time()) + 600, "180p/seg_000.m4s")
    forged = sign(b"not-the-edge-key", asset_id, int(time.time()) + 600, "180p/seg_000.m4s")
    expired = sign(edge.key, asset_id, int(time.time()) - 1, "180p/seg_000.m4s")
    other = good.replace(asset_id, "anotherasset0001")
    for path in (forged, expired, other):
        assert httpx.get(edge.url + path, timeout=10).status_code == 403
    assert edge.fetches() == before, "no origin fetch for a URL the edge refuses"


def test_an_asset_whose_master_playlist_is_missing_is_not_served(
    edge: Edge, edge_platform: LocalPlatform, hls_package: Path, tmp_path: Path
) -> None:
    partial = tmp_path / "partial"
    (partial / "180p").mkdir(parents=True)
    (partial / "180p" / "seg_000.m4s").write_bytes(
        (hls_package / "180p" / "seg_000.m4s").read_bytes()
    )
    (partial / "master.m3u8").write_text("#EXTM3U\n")
    asset_id = new_asset(edge_platform, partial)
    # what a publish that died before its last object leaves: all but the master playlist
    asyncio.run(_delete(edge_platform, f"assets/{asset_id}/master.m3u8"))
    answer = httpx.get(edge.signed(asset_id, "180p/seg_000.m4s"), timeout=10)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND"


def test_a_fill_cut_off_by_a_kill_is_never_served(
    edge: Edge, edge_platform: LocalPlatform, hls_package: Path
) -> None:
    asset_id = new_asset(edge_platform, hls_package)
    whole = (hls_package / "360p" / "seg_003.m4s").read_bytes()
    assert httpx.get(edge.signed(asset_id), timeout=10).status_code == 200
    folder = edge_platform.data_dir / "edge-cache" / "edge-0" / "assets" / asset_id / "360p"
    folder.mkdir(parents=True, exist_ok=True)
    cut = folder / ".seg_003.m4s.deadbeef.part"
    cut.write_bytes(whole[: len(whole) // 3])  # what a kill -9 mid-fill leaves behind
    killed = edge_platform.kill("edge")
    deadline = time.monotonic() + 60
    while not any(
        i["pid"] not in (None, killed) and i["healthy"] for i in edge_platform.instances("edge")
    ):
        assert time.monotonic() < deadline, "the edge was not restarted"
        time.sleep(0.2)
    assert not cut.exists(), "a restarted edge drops unfinished fills"
    served = httpx.get(edge.signed(asset_id, "360p/seg_003.m4s"), timeout=10)
    assert served.status_code == 200 and served.content == whole


def test_with_the_origin_down_the_cache_plays_a_miss_is_503_and_the_origin_comes_back(
    edge: Edge, edge_platform: LocalPlatform, origin: SeaweedS3, hls_package: Path
) -> None:
    asset_id = new_asset(edge_platform, hls_package)
    cached = edge.signed(asset_id, "180p/seg_000.m4s")
    for _ in range(4):  # popular enough to be kept in a full cache
        assert httpx.get(cached, timeout=10).status_code == 200
    kept = edge.cache_folder / "assets" / asset_id / "180p" / "seg_000.m4s"
    deadline = time.monotonic() + 5  # renamed into the cache just after its last byte went out
    while not kept.exists():
        assert time.monotonic() < deadline, "the segment was not kept"
        time.sleep(0.1)
    origin.stop()
    try:
        assert httpx.get(cached, timeout=10).status_code == 200, "cached content keeps playing"
        started = time.monotonic()
        missed = httpx.get(edge.signed(asset_id, "180p/seg_001.m4s"), timeout=30)
        assert missed.status_code == 503
        assert missed.json()["error"]["code"] == "ORIGIN_UNAVAILABLE"
        assert time.monotonic() - started < 15, "a miss fails in seconds, not minutes"
    finally:
        origin.start()
    deadline = time.monotonic() + 30  # the store's volumes load again after its S3 API answers
    while (
        refilled := httpx.get(edge.signed(asset_id, "180p/seg_001.m4s"), timeout=30)
    ).status_code != 200:
        assert refilled.json()["error"]["code"] == "ORIGIN_UNAVAILABLE"
        assert time.monotonic() < deadline, "misses fill again with no restart"
        time.sleep(0.5)


def test_a_popular_title_is_in_the_cache_before_its_first_play(
    edge: Edge, edge_platform: LocalPlatform, hls_package: Path
) -> None:
    title_id = create_title(edge_platform, admin(edge_platform), "Popular")
    asset_id = new_asset(edge_platform, hls_package)
    ready = AssetReady(
        asset_id=asset_id, title_id=title_id, duration_s=DURATION_S, renditions=renditions()
    )
    publish(edge_platform.env, ready)  # as the encoder announces it; catalog links it
    first = [f"{r}/seg_{n:03d}.m4s" for r in ("180p", "360p") for n in range(PREFILLED_SEGMENTS)]
    held = edge_platform.data_dir / "edge-cache" / "edge-0" / "assets" / asset_id
    deadline = time.monotonic() + 30
    while not all((held / f).exists() for f in first):
        assert time.monotonic() < deadline, "the fill ahead of demand did not come"
        time.sleep(0.3)
    before = edge.fetches()
    for file in ("master.m3u8", "360p/index.m3u8", *first):
        answer = httpx.get(edge.signed(asset_id, file), timeout=10)
        assert answer.status_code == 200, (file, answer.text)
    assert edge.fetches() == before, "the first play's start came from the cache"
    later = f"360p/seg_{PREFILLED_SEGMENTS:03d}.m4s"
    assert httpx.get(edge.signed(asset_id, later), timeout=10).status_code == 200
    assert edge.fetches() == before + 1, "only the first segments are filled ahead"


async def _delete(platform: LocalPlatform, key: str) -> None:
    await obstore.delete_async(s3_store(platform.env).store, key)


def test_each_edge_cache_shows_its_hit_ratio_and_origin_bytes_on_metrics_and_the_ops_page(
    edge: Edge, edge_platform: LocalPlatform, hls_package: Path
) -> None:
    asset_id = new_asset(edge_platform, hls_package)
    size = (hls_package / "180p" / "seg_003.m4s").stat().st_size
    before = httpx.get(edge.url + "/health/ready", timeout=10).json()["cache"]
    origin_before = sample_value(edge.url, "cinemesh_edge_origin_bytes_total")
    for _ in range(3):  # a miss (and the master playlist's), a hit once it is kept
        assert httpx.get(edge.signed(asset_id, "180p/seg_003.m4s"), timeout=10).status_code == 200
    after = httpx.get(edge.url + "/health/ready", timeout=10).json()["cache"]
    hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
    assert hits + misses == 4 and hits >= 1 and misses >= 2, (hits, misses)
    assert after["cache_bytes_served"] - before["cache_bytes_served"] == hits * size
    assert after["origin_bytes"] - before["origin_bytes"] > size
    assert sample_value(edge.url, "cinemesh_edge_origin_bytes_total") - origin_before > size
    assert 0 < after["hit_ratio"] < 1 and after["offload"] < 1
    assert after["bytes"] <= after["max_bytes"] == CACHE_BYTES
    deadline = time.monotonic() + 15  # the gateway probes each instance at most every 2 s
    while True:
        ops = httpx.get(f"{edge_platform.gateway}/api/v1/ops/services", timeout=10).json()
        edges = next(s for s in ops["services"] if s["name"] == "edge")
        shown = edges["instances"][0]["cache"]
        if shown and shown["hits"] >= after["hits"]:
            break
        assert time.monotonic() < deadline, f"the ops page did not show the cache: {edges}"
        time.sleep(0.5)
    assert edges["cache"]["origin_bytes"] >= after["origin_bytes"]
    assert edges["cache"]["hit_ratio"] == pytest.approx(
        edges["cache"]["hits"] / (edges["cache"]["hits"] + edges["cache"]["misses"]), abs=1e-3
    )
    catalog = next(s for s in ops["services"] if s["name"] == "catalog")
    assert catalog["cache"] is None, "only edges have a cache"
