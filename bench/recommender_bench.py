"""recommender's costs and quality, each beside its baseline in the same run:
- quality: NDCG@10, Recall@20 and HR@10 of our model (recency-ease) against popularity,
  item-kNN and EASE, and every challenger candidate's NDCG@10, Recall@20 and fit time beside
  recency-ease (and EASE's fit time), each candidate's settings chosen on the validation split
  (candidates.py), through the project's own harness (`cinemesh recs evaluate`, protocol in
  docs/recommender.md);
- training: wall time and peak memory (tracemalloc peak of Python + numpy allocations, and the
  process' max RSS growth) of a snapshot (the served model + trending) on every interaction;
- rows in-process: the domain alone (snapshot + a profile history -> every row), rows/s and
  p50/p99, for users of the data set with their real histories;
- rows over HTTP: a real recommender process (SQLite, embedded NATS) fed the data as
  `catalog.title.upserted` and `history.watched` events (quick and full: every MovieLens
  profile, so histories up to 2,698 titles), how fast it consumes them, then `GET /v1/rows`
  for profiles drawn at random.

How the HTTP part loads the service, since on a 2-core machine the load decides the p99:
- `one connection`: one request at a time (closed loop, concurrency 1): latency with no
  queueing at all, and the most requests/s one client gets;
- `fixed rate` (the goal's measurement): an open loop at a stated rate (quick: 100
  requests/s, evenly spaced) over a small pool of connections (quick: 4). Each latency is
  counted from the moment the request was due, not from when a connection was free, so a
  stall shows up in full instead of hiding behind the requests it held back;
- `while retraining`: the same fixed rate while `POST /v1/retrain` runs back to back and new
  `history.watched` events arrive (quick: 200/s): serving must not stall when the model is
  retrained or events are consumed. A stress case: the service retrains at most once a
  minute on its own, and here the trainer, the publisher, NATS and the client share the
  service's 2 cores;
- `on its schedule` (quick and full): the same fixed rate and new events for 75 s while the
  service retrains as it does in use, on its default 60 s schedule when the data changed: the
  retrains seen in the window are counted.
Latencies are measured by the client (aiohttp on uvloop, same machine, loopback), so they
include the HTTP round trip and the client's own wake-ups (about 1 ms at 50 requests/s on an
idle machine, less when busier); the service's own histogram (`/metrics`) is reported beside
them as the share of requests it answered within 10 ms.

The data is MovieLens latest-small (../shared/data/movielens-latest-small) when it is there;
--tiny, and any mode without it, use a generated interaction set instead, and the output's
`data` field says which. Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import multiprocessing
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import nats
import uvloop
from prometheus_client.parser import text_string_to_metric_families

from cinemesh.benchsuite.nats import nats_server
from cinemesh.benchsuite.rows import row as summary_row
from cinemesh.contracts.catalog import TitleUpserted
from cinemesh.contracts.history import TitleWatched
from cinemesh.contracts.maturity import RATINGS
from cinemesh.platform.events import Event, EventBus
from cinemesh.runner.local import LocalPlatform
from cinemesh.services.recommender.public import (
    ProfileHistory,
    TrainingData,
    build_rows,
    build_snapshot,
    read_csv,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "movielens-latest-small"
GOAL_MS = 10.0
OURS = "recency-ease"
BASELINES = ("popularity", "item-knn (cosine)", "ease")
FIT_BASELINES = {  # EASE's fit in the harness is its inverse; its scores are made while measuring
    "ease": "ease fit (its inverse only)",
    OURS: f"{OURS} fit",
}
Record = tuple[str, str, float, float]  # user, item, weight, unix seconds


@dataclass(frozen=True)
class Mode:
    requests: int  # in-process rows
    http_users: int | None  # profiles fed to the service (None: every one)
    sequential: int  # requests over one connection, one at a time
    rate: float  # requests/s of the fixed-rate measurements
    connections: int
    steady_s: float  # how long the fixed rate runs alone
    busy_s: float  # and while retraining back to back and consuming new events
    scheduled_s: float  # and while consuming new events, retraining on the default schedule
    late_events_per_s: float
    generated: dict[str, int]  # the generated world's size, when it is used


MODES = {
    "tiny": Mode(
        300, 40, 200, 50, 2, 2, 3, 0, 50,
        {"genres": 8, "titles_per_genre": 25, "users": 300, "per_user": 20},
    ),
    "quick": Mode(
        1000, None, 1000, 100, 4, 10, 15, 75, 200,
        {"genres": 16, "titles_per_genre": 100, "users": 1500, "per_user": 30},
    ),
    "full": Mode(
        5000, None, 5000, 200, 4, 30, 45, 75, 200,
        {"genres": 20, "titles_per_genre": 250, "users": 5000, "per_user": 40},
    ),
}  # fmt: skip


@dataclass(frozen=True)
class World:
    """What every measurement reads: interactions, the catalog and a CSV of the interactions
    for `cinemesh recs evaluate`."""

    data: str
    records: list[Record]
    titles: list[dict[str, Any]]
    csv: Path


# --- the data ------------------------------------------------------------------------------------
def movielens_world() -> World:
    rng = random.Random(3)
    now = datetime.now(UTC).isoformat()
    with (DATA / "movies.csv").open(newline="", encoding="utf-8") as handle:
        titles = [
            {
                "title_id": row["movieId"],
                "name": row["title"],
                "genres": row["genres"].split("|"),
                "maturity_rating": rng.choice(RATINGS),
                "popularity": 1.0,
                "updated_at": now,
            }
            for row in csv.DictReader(handle)
        ]
    data = read_csv(DATA / "ratings.csv")
    records = [
        (data.user_ids[u], data.item_ids[i], float(w), float(t))
        for u, i, w, t in zip(data.users, data.items, data.weights, data.timestamps, strict=True)
    ]
    return World("MovieLens latest-small", records, titles, DATA / "ratings.csv")


def generated_world(
    folder: Path, *, genres: int, titles_per_genre: int, users: int, per_user: int, seed: int = 11
) -> World:
    """Taste clusters with drift: each user mostly watches one genre, moves towards a second
    one over time, and now and then picks anything; within a genre a few titles are far more
    popular than the rest (Zipf). Timestamps fall in the last 90 days."""
    rng = random.Random(seed)
    names = [f"genre-{g:02d}" for g in range(genres)]
    catalog = {
        g: [f"g{n:02d}-{k:03d}" for k in range(titles_per_genre)] for n, g in enumerate(names)
    }
    zipf = [1 / (rank + 1) for rank in range(titles_per_genre)]
    moment = datetime.now(UTC)
    titles = [
        {
            "title_id": title_id,
            "name": title_id.replace("-", " ").title(),
            "genres": [genre],
            "maturity_rating": RATINGS[n % len(RATINGS)],
            "popularity": round(zipf[k], 4),
            "updated_at": moment.isoformat(),
        }
        for n, genre in enumerate(names)
        for k, title_id in enumerate(catalog[genre])
    ]
    start = moment.timestamp() - 90 * 86400
    records: list[Record] = []
    for u in range(users):
        first, second = rng.sample(names, 2)
        count = max(2, int(rng.gauss(per_user, per_user / 3)))
        taken: set[str] = set()
        times = sorted(rng.uniform(start, moment.timestamp()) for _ in range(count))
        for step, at in enumerate(times):
            drift = 0.7 * step / count
            roll = rng.random()
            genre = rng.choice(names) if roll < 0.1 else second if roll < 0.1 + drift else first
            for _ in range(10):  # a title not seen yet, popular ones first
                item = rng.choices(catalog[genre], weights=zipf)[0]
                if item not in taken:
                    break
            taken.add(item)
            records.append((f"user-{u:05d}", item, 0.5 if rng.random() < 0.1 else 1.0, at))
    path = folder / "generated-interactions.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user", "item", "rating", "timestamp"])
        writer.writerows((u, i, 4.0 if w == 1.0 else 2.0, f"{t:.0f}") for u, i, w, t in records)
    label = (
        f"generated: {genres} genres x {titles_per_genre} titles, {users} users, "
        f"~{per_user} interactions each"
    )
    return World(label, records, titles, path)


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
    }


# --- quality -------------------------------------------------------------------------------------
def quality(world: World, folder: Path, *, tune: bool) -> dict[str, Any]:
    """`cinemesh recs evaluate` on the world's CSV: every model through one harness (without
    the validation grids in the tiny smoke run, whose generated data says nothing)."""
    out = folder / "evaluation.json"
    command = ["recs", "evaluate", "--interactions", str(world.csv), "--json", str(out)]
    command += [] if tune else ["--no-tune"]
    done = subprocess.run(
        [sys.executable, "-m", "cinemesh", *command],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cinemesh recs evaluate failed: {done.stderr.strip()[-500:]}")
    report: dict[str, Any] = json.loads(out.read_text())
    return report


# --- training and rows in process ------------------------------------------------------------------
def training(world: World) -> tuple[dict[str, Any], Any]:
    """A snapshot on every interaction: timed alone, then again under tracemalloc for memory."""
    data = TrainingData(world.records, world.titles)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    snapshot = build_snapshot(data)
    took = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    build_snapshot(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "interactions": snapshot.stats["interactions"],
        "profiles": snapshot.stats["profiles"],
        "titles": snapshot.stats["titles"],
        "train_s": round(took, 3),
        "peak_traced_mb": round(peak / 2**20, 1),
        "max_rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
        "neighbours": snapshot.stats["neighbours"],
    }, snapshot


def in_process(world: World, snapshot: Any, requests: int) -> dict[str, Any]:
    by_user: dict[str, list[tuple[float, str, float]]] = {}
    for user, item, weight, at in world.records:
        by_user.setdefault(user, []).append((at, item, weight))
    histories = []
    for user, items in by_user.items():
        items.sort(reverse=True)
        watched = {i for _, i, _ in items}
        histories.append(
            ProfileHistory(user, positives=[(i, w) for _, i, w in items], finished=watched)
        )
    rng = random.Random(5)
    samples = []
    started = time.perf_counter()
    for _ in range(requests):
        history = rng.choice(histories)
        began = time.perf_counter()
        build_rows(snapshot, history, maturity=rng.choice(RATINGS), limit=20)
        samples.append(time.perf_counter() - began)
    total = time.perf_counter() - started
    return {"requests": requests, "rows_per_s": round(requests / total, 1), **percentiles(samples)}


# --- rows over HTTP --------------------------------------------------------------------------------
async def publish(url: str, events: list[Event], *, in_flight: int = 256) -> None:
    """Publish every event, up to `in_flight` awaiting JetStream's acknowledgement at once."""
    bus = EventBus(url, service="bench", namespace="cinemesh")
    await bus.connect()
    try:
        for start in range(0, len(events), in_flight):
            await asyncio.gather(*(bus.publish(e) for e in events[start : start + in_flight]))
    finally:
        await bus.close()


def watched_event(profile: str, title: str, at: float) -> Event:
    moment = datetime.fromtimestamp(at, UTC).isoformat()
    payload = TitleWatched(profile_id=profile, title_id=title, at=moment)
    return Event(type=payload.TYPE, data=payload.model_dump(mode="json"))


def events_for(world: World, users: int | None) -> tuple[list[str], list[Event], list[Event]]:
    """The chosen profiles (every one when `users` is None), their interactions as
    `history.watched`, and the catalog titles they touch as `catalog.title.upserted`."""
    everyone = sorted({r[0] for r in world.records})
    chosen = set(everyone if users is None else random.Random(9).sample(everyone, users))
    titles = {t["title_id"]: t for t in world.titles}
    watched, used = [], set()
    for user, title, _weight, at in world.records:
        if user in chosen:
            used.add(title)
            watched.append(watched_event(user, title, at))
    upserts = [
        Event(
            type=TitleUpserted.TYPE,
            data=TitleUpserted(
                title_id=t,
                title=titles[t]["name"],
                kind="movie",
                genres=titles[t]["genres"],
                maturity_rating=titles[t]["maturity_rating"],
            ).model_dump(mode="json"),
        )
        for t in sorted(used)
        if t in titles
    ]
    return sorted(chosen), upserts, watched


async def unconsumed(url: str) -> int:
    """Events the recommender's consumers have not acknowledged yet."""
    nc = await nats.connect(url)
    try:
        infos = await nc.jetstream().consumers_info("cinemesh_EVENTS")
        return sum(
            int(i.num_pending or 0) + int(i.num_ack_pending or 0)
            for i in infos
            if i.name.startswith("recommender")
        )
    finally:
        await nc.close()


def wait_until_consumed(url: str, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    time.sleep(0.5)
    while asyncio.run(unconsumed(url)) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the recommender did not consume the events in {timeout_s:.0f} s")
        time.sleep(0.25)


class Requests:
    """`GET /v1/rows` for profiles drawn at random (seeded), timed by the client."""

    def __init__(self, base: str, headers: dict[str, str], profiles: list[str]) -> None:
        self.url = base + "/v1/rows"
        self.headers = headers
        rng = random.Random(5)
        self.profiles = [rng.choice(profiles) for _ in range(100_000)]

    async def _get(self, session: aiohttp.ClientSession, n: int) -> None:
        params: dict[str, str | int] = {
            "profile_id": self.profiles[n % len(self.profiles)],
            "limit": 20,
        }
        async with session.get(self.url, params=params) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"GET /v1/rows answered {response.status}: {body[:200]!r}")

    def _session(self, connections: int) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            headers=self.headers, connector=aiohttp.TCPConnector(limit=connections)
        )

    async def one_connection(self, count: int) -> dict[str, Any]:
        samples = []
        async with self._session(1) as session:
            for n in range(20):  # warm up the connection and the service
                await self._get(session, n)
            started = time.perf_counter()
            for n in range(count):
                began = time.perf_counter()
                await self._get(session, n)
                samples.append(time.perf_counter() - began)
            total = time.perf_counter() - started
        return {
            "requests": count,
            "connections": 1,
            "requests_per_s": round(count / total, 1),
            **percentiles(samples),
        }

    async def fixed_rate(self, rate: float, connections: int, seconds: float) -> dict[str, Any]:
        """Evenly spaced requests at `rate`; each latency counts from when it was due."""
        count = max(1, int(rate * seconds))
        async with self._session(connections) as session:
            for n in range(connections * 5):
                await self._get(session, n)
            start = time.perf_counter() + 0.05

            async def due(n: int) -> float:
                scheduled = start + n / rate
                await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
                await self._get(session, n)
                return time.perf_counter() - scheduled

            samples = await asyncio.gather(*(due(n) for n in range(count)))
        return {
            "requests": count,
            "rate_per_s": rate,
            "connections": connections,
            **percentiles(list(samples)),
        }


def publish_late(url: str, records: list[Record], per_s: float, stop: Any, published: Any) -> None:
    """New `history.watched` events at `per_s` until `stop` is set: copies of real histories
    under new profile ids. Runs in a process of its own, so that making and sending events
    never holds the measuring client's GIL."""

    async def run() -> None:
        bus = EventBus(url, service="bench-late", namespace="cinemesh")
        await bus.connect()
        try:
            tick, per_tick = 0.1, max(1, round(per_s * 0.1))
            while not stop.is_set():
                began = time.perf_counter()
                batch = []
                for _ in range(per_tick):
                    user, title, _w, _at = records[published.value % len(records)]
                    batch.append(watched_event(f"late-{user}", title, time.time()))
                    published.value += 1
                await asyncio.gather(*(bus.publish(e) for e in batch))
                await asyncio.sleep(max(0.0, tick - (time.perf_counter() - began)))
        finally:
            await bus.close()

    asyncio.run(run())


class Background:
    """While the fixed rate runs: `POST /v1/retrain` back to back (a thread that mostly waits),
    and new events at a steady rate (`publish_late`, in another process)."""

    def __init__(self, base: str, headers: dict[str, str], nats_url: str, world: World) -> None:
        self.base, self.headers, self.nats_url, self.world = base, headers, nats_url, world
        self.stop = threading.Event()
        self.retrains: list[float] = []
        self.models: list[str] = []  # versions served, in order, when the schedule retrains
        self.published = 0

    def retrain_forever(self) -> None:
        with httpx.Client(headers=self.headers, timeout=300) as client:
            while not self.stop.is_set():
                began = time.perf_counter()
                client.post(self.base + "/v1/retrain").raise_for_status()
                self.retrains.append(round(time.perf_counter() - began, 2))

    def watch_models(self) -> None:
        with httpx.Client(headers=self.headers, timeout=30) as client:
            while not self.stop.wait(0.5):
                version = client.get(self.base + "/v1/model").json()["version"]
                if not self.models or self.models[-1] != version:
                    self.models.append(version)

    @contextmanager
    def running(self, late_events_per_s: float, *, back_to_back: bool = True) -> Iterator[None]:
        """New events at `late_events_per_s`, and retrains back to back (or, with
        `back_to_back` off, as the service's own schedule has them, the versions noted)."""
        context = multiprocessing.get_context("spawn")
        stop, published = context.Event(), context.Value("l", 0)
        publisher = context.Process(
            target=publish_late,
            args=(self.nats_url, self.world.records[:20_000], late_events_per_s, stop, published),
            daemon=True,
        )
        retrainer = threading.Thread(
            target=self.retrain_forever if back_to_back else self.watch_models, daemon=True
        )
        publisher.start()
        retrainer.start()
        try:
            time.sleep(2.0)  # the publisher's imports, and the first retrain under way
            yield
        finally:
            self.stop.set()
            stop.set()
            retrainer.join(timeout=300)
            publisher.join(timeout=30)
            self.published = int(published.value)


def service_latency(client: httpx.Client, base: str) -> dict[float, float]:
    """The service's own histogram of `GET /v1/rows` latency: cumulative count per bucket."""
    text = client.get(base + "/metrics").text
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("route") == "/v1/rows":
                if family.name == "cinemesh_http_request_duration_seconds":
                    buckets[float(sample.labels["le"])] = sample.value
    return buckets


def service_side(before: dict[float, float], after: dict[float, float]) -> dict[str, Any]:
    counts = {le: after[le] - before.get(le, 0.0) for le in sorted(after)}
    total = counts.get(float("inf"), 0.0)
    if not total:
        return {}

    def bound(share: float) -> float:
        return next(le for le, n in counts.items() if n >= share * total) * 1000

    return {
        "service_share_within_10ms": round(counts.get(0.01, 0.0) / total, 4),
        "service_share_within_5ms": round(counts.get(0.005, 0.0) / total, 4),
        "service_p50_at_most_ms": bound(0.5),
        "service_p99_at_most_ms": bound(0.99),
    }


def over_http(world: World, mode: Mode) -> dict[str, Any]:
    profiles, upserts, watched = events_for(world, mode.http_users)
    pairs = len({(e.data["profile_id"], e.data["title_id"]) for e in watched})
    results: dict[str, Any] = {
        "profiles": len(profiles),
        "events": len(upserts) + len(watched),
        "longest_history": max(Counter(e.data["profile_id"] for e in watched).values()),
    }
    with tempfile.TemporaryDirectory() as folder, nats_server(Path(folder) / "js") as url:
        platform = LocalPlatform(
            Path(folder) / "data",
            services=["registry", "recommender"],
            env={"CINEMESH_NATS_URL": url, "CINEMESH_LOG_LEVEL": "warning"},
        ).start()
        try:
            results.update(feed(platform, url, upserts + watched, pairs=pairs))
            results.update(measure(platform, url, world, profiles, mode))
        finally:
            platform.stop()
    return results


def feed(platform: LocalPlatform, url: str, events: list[Event], *, pairs: int) -> dict[str, Any]:
    """Publish the events, wait until they are consumed, train once on all of them."""
    began = time.perf_counter()
    asyncio.run(publish(url, events))
    published = time.perf_counter() - began
    wait_until_consumed(url)
    consumed = time.perf_counter() - began
    base = platform.url_of("recommender")
    with httpx.Client(headers=platform.headers, timeout=300) as client:
        model: dict[str, Any] = client.post(base + "/v1/retrain").json()["model"]
    if model["interactions"] < pairs:
        raise RuntimeError(f"the model holds {model['interactions']} of {pairs} interactions")
    return {
        "publish_s": round(published, 1),
        "events_consumed_s": round(consumed, 1),
        "events_per_s": round(len(events) / consumed),
        "model": model,
    }


def measure(
    platform: LocalPlatform, url: str, world: World, profiles: list[str], mode: Mode
) -> dict[str, Any]:
    base = platform.url_of("recommender")
    requests = Requests(base, platform.headers, profiles)
    out: dict[str, Any] = {}
    # The client holds the data set and its events (a million objects): out of its collector's
    # sight, so that no full collection of the client's own pauses a measured request.
    gc.collect()
    gc.freeze()
    with httpx.Client(headers=platform.headers, timeout=30) as client:
        before = service_latency(client, base)
        out["one_connection"] = uvloop.run(requests.one_connection(mode.sequential))
        out["one_connection"].update(service_side(before, service_latency(client, base)))
        before = service_latency(client, base)
        steady = requests.fixed_rate(mode.rate, mode.connections, mode.steady_s)
        out["fixed_rate"] = uvloop.run(steady)
        out["fixed_rate"].update(service_side(before, service_latency(client, base)))
        background = Background(base, platform.headers, url, world)
        before = service_latency(client, base)
        with background.running(mode.late_events_per_s):
            busy = uvloop.run(requests.fixed_rate(mode.rate, mode.connections, mode.busy_s))
        busy.update(service_side(before, service_latency(client, base)))
        busy["retrains_s"] = background.retrains
        busy["late_events_published"] = background.published
        out["while_retraining"] = busy
        if mode.scheduled_s:
            out["on_schedule"] = on_schedule(platform, client, requests, url, world, mode)
    return out


def on_schedule(
    platform: LocalPlatform,
    client: httpx.Client,
    requests: Requests,
    url: str,
    world: World,
    mode: Mode,
) -> dict[str, Any]:
    """The fixed rate while new events arrive and the service retrains on its own default
    schedule (every 60 s when the data changed): long enough to include a retrain."""
    base = platform.url_of("recommender")
    background = Background(base, platform.headers, url, world)
    before = service_latency(client, base)
    with background.running(mode.late_events_per_s, back_to_back=False):
        calm = uvloop.run(requests.fixed_rate(mode.rate, mode.connections, mode.scheduled_s))
    calm.update(service_side(before, service_latency(client, base)))
    calm["retrains_seen"] = max(0, len(background.models) - 1)
    calm["late_events_published"] = background.published
    return calm


@contextmanager
def phase(phases: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    phases[name] = round(time.perf_counter() - started, 1)


# --- the report ------------------------------------------------------------------------------------
def summarize(report: dict[str, Any]) -> list[dict[str, Any]]:
    by_model = {r["model"]: r["metrics"] for r in report["quality"]["results"]}
    ours = by_model[OURS]
    rows = [
        _ratio_row(f"NDCG@10, {OURS}", name, ours["ndcg_at_10"], by_model[name]["ndcg_at_10"])
        for name in BASELINES
    ]
    rows += [
        _ratio_row(
            f"Recall@20, {OURS}", "ease", ours["recall_at_20"], by_model["ease"]["recall_at_20"]
        ),
        _ratio_row(f"HR@10, {OURS}", "ease", ours["hr_at_10"], by_model["ease"]["hr_at_10"]),
    ]
    rows += candidate_rows(report["quality"]["results"])
    train = report["training"]
    rows += [
        {
            "measurement": f"training a snapshot on {train['interactions']} interactions, s",
            "baseline": "-",
            "value": train["train_s"],
            "baseline_value": None,
            "ratio": None,
            "better": "lower",
        },
        {
            "measurement": "training peak memory, MB (tracemalloc)",
            "baseline": "-",
            "value": train["peak_traced_mb"],
            "baseline_value": None,
            "ratio": None,
            "better": "lower",
        },
        {
            "measurement": "rows in process, p99 ms",
            "baseline": "-",
            "value": report["rows_in_process"]["p99_ms"],
            "baseline_value": None,
            "ratio": None,
            "better": "lower",
        },
        {
            "measurement": "rows in process, rows/s (one core)",
            "baseline": "-",
            "value": report["rows_in_process"]["rows_per_s"],
            "baseline_value": None,
            "ratio": None,
            "better": "higher",
        },
    ]
    http = report.get("rows_over_http")
    if http is None:
        return rows
    steady, busy = http["fixed_rate"], http["while_retraining"]
    at_rate = f"{steady['rate_per_s']:g} requests/s over {steady['connections']} connections"
    rows += [
        {
            "measurement": f"GET /v1/rows over HTTP, p99 ms at {at_rate}",
            "baseline": "goal",
            "value": steady["p99_ms"],
            "baseline_value": GOAL_MS,
            "ratio": round(steady["p99_ms"] / GOAL_MS, 3),
            "better": "lower",
            "goal": f"p99 < {GOAL_MS:g} ms",
        },
        {
            "measurement": (
                f"GET /v1/rows over HTTP, p99 ms at {at_rate} while retraining back to back "
                f"and consuming {report['mode_late_events_per_s']:g} new events/s"
            ),
            "baseline": "goal",
            "value": busy["p99_ms"],
            "baseline_value": GOAL_MS,
            "ratio": round(busy["p99_ms"] / GOAL_MS, 3),
            "better": "lower",
            "goal": f"p99 < {GOAL_MS:g} ms",
        },
        *_scheduled_rows(http.get("on_schedule"), at_rate, report),
        *(
            _at_the_service(condition, http[key])
            for key, condition in (
                ("fixed_rate", "steady"),
                ("on_schedule", "retraining on its own schedule, new events arriving"),
                ("while_retraining", "retraining back to back, new events arriving"),
            )
            if http.get(key, {}).get("service_share_within_10ms") is not None
        ),
        {
            "measurement": "GET /v1/rows over HTTP, p99 ms, one connection, one request at a time",
            "baseline": "-",
            "value": http["one_connection"]["p99_ms"],
            "baseline_value": None,
            "ratio": None,
            "better": "lower",
        },
        {
            "measurement": f"events consumed per second ({http['events']} events, SQLite)",
            "baseline": "-",
            "value": http["events_per_s"],
            "baseline_value": None,
            "ratio": None,
            "better": "higher",
        },
    ]
    return rows


def candidate_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every challenger candidate (settings chosen on the validation split, measured on the test
    split once) beside recency-ease, their fit times beside recency-ease's (a blend's includes
    its recency-EASE part), and recency-ease's beside EASE's."""
    by_model = {r["model"]: r for r in results}
    ours = by_model[OURS]
    rows = []
    for name in by_model:
        if name in (OURS, *BASELINES):
            continue
        mine, settings = by_model[name], by_model[name]["params"]
        chosen = ", ".join(f"{k}={v}" for k, v in settings.items())
        for label, key in (("NDCG@10", "ndcg_at_10"), ("Recall@20", "recall_at_20")):
            rows.append(
                summary_row(
                    f"{label}, candidate {name} ({chosen})",
                    mine["metrics"][key],
                    baseline=OURS,
                    baseline_value=ours["metrics"][key],
                )
            )
    fits = [(OURS, "ease")] + [(name, OURS) for name in by_model if name not in (OURS, *BASELINES)]
    for name, baseline in fits:
        rows.append(
            summary_row(
                f"fit on the training part, s, {name}",
                by_model[name]["fit_s"],
                baseline=FIT_BASELINES[baseline],
                baseline_value=by_model[baseline]["fit_s"],
                better="lower",
            )
        )
    return rows


def _ratio_row(measurement: str, baseline: str, value: float, base: float) -> dict[str, Any]:
    return {
        "measurement": measurement,
        "baseline": baseline,
        "value": value,
        "baseline_value": base,
        "ratio": round(value / base, 3) if base else None,
        "better": "higher",
    }


def quality_plot(evaluation: dict[str, Any]) -> dict[str, Any]:
    metrics = [("NDCG@10", "ndcg_at_10"), ("Recall@20", "recall_at_20"), ("HR@10", "hr_at_10")]
    return {
        "title": "Recommendation quality, one temporal split (cinemesh recs evaluate)",
        "x_label": "metric",
        "y_label": "score",
        "series": [
            {
                "name": r["model"],
                "x": [label for label, _ in metrics],
                "y": [r["metrics"][key] for _, key in metrics],
            }
            for r in evaluation["results"]
        ],
    }


def _at_the_service(condition: str, measured: dict[str, Any]) -> dict[str, Any]:
    """The issue's own measure: p99 under 10 ms at the service, read from the service's latency
    histogram (its 10 ms bucket holds at least 99% of the requests), free of the client's
    own delays on the same 2 cores."""
    share = measured["service_share_within_10ms"]
    return {
        "measurement": (
            f"GET /v1/rows at the service (its own histogram), share answered within "
            f"{GOAL_MS:g} ms, {condition}"
        ),
        "baseline": "goal",
        "value": share,
        "baseline_value": 0.99,
        "ratio": round(share / 0.99, 4),
        "better": "higher",
        "goal": f">= 0.99, i.e. p99 < {GOAL_MS:g} ms at the service",
    }


def _scheduled_rows(
    calm: dict[str, Any] | None, at_rate: str, report: dict[str, Any]
) -> list[dict[str, Any]]:
    if not calm:
        return []
    return [
        {
            "measurement": (
                f"GET /v1/rows over HTTP, p99 ms at {at_rate} while consuming "
                f"{report['mode_late_events_per_s']:g} new events/s and retraining on its own "
                f"schedule ({calm['retrains_seen']} retrain(s) in the window)"
            ),
            "baseline": "goal",
            "value": calm["p99_ms"],
            "baseline_value": GOAL_MS,
            "ratio": round(calm["p99_ms"] / GOAL_MS, 3),
            "better": "lower",
            "goal": f"p99 < {GOAL_MS:g} ms",
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few minutes")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    name = "tiny" if args.tiny else "quick" if args.quick else "full"
    mode = MODES[name]
    with tempfile.TemporaryDirectory(prefix="recs-bench-") as tmp:
        if name != "tiny" and (DATA / "ratings.csv").exists():
            world = movielens_world()
        else:
            world = generated_world(Path(tmp), **mode.generated)
            if name != "tiny":
                world = World(
                    f"{world.data} (MovieLens not found at {DATA})",
                    world.records,
                    world.titles,
                    world.csv,
                )
        report: dict[str, Any] = {"benchmark": "recommender", "mode": name, "data": world.data}
        phases: dict[str, float] = {}
        with phase(phases, "quality"):
            report["quality"] = quality(world, Path(tmp), tune=name != "tiny")
        with phase(phases, "training"):
            report["training"], snapshot = training(world)
        with phase(phases, "rows_in_process"):
            report["rows_in_process"] = in_process(world, snapshot, mode.requests)
        del snapshot
        if not args.skip_http:
            with phase(phases, "rows_over_http"):
                report["rows_over_http"] = over_http(world, mode)
                report["mode_late_events_per_s"] = mode.late_events_per_s
        report["phase_s"] = phases
    summary = summarize(report)
    plots = [quality_plot(report["quality"])]
    print(json.dumps({**report, "summary": summary, "plots": plots}, indent=2))


if __name__ == "__main__":
    main()
