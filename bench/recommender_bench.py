"""recommender's costs on MovieLens latest-small (../shared/data/movielens-latest-small):
- training: wall time and peak memory (tracemalloc peak of Python + numpy allocations, and the
  process' max RSS growth) of the served model on all 100k ratings;
- rows in-process: the domain alone (snapshot + a profile history -> every row), rows/s and
  p50/p99, for users of the data set with their real histories;
- rows over HTTP: a real recommender process (SQLite, embedded NATS) fed a slice of the data
  as `history.watched` and `catalog.title.upserted` events, `GET /v1/rows` p50/p99 and
  requests/s, with the short answer cache off and on. Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import resource
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from cinemesh.contracts.catalog import TitleUpserted
from cinemesh.contracts.history import TitleWatched
from cinemesh.contracts.maturity import RATINGS
from cinemesh.platform.events import Event, EventBus
from cinemesh.runner.layout import free_port
from cinemesh.runner.local import LocalPlatform
from cinemesh.runner.natsd import nats_server_binary
from cinemesh.services.recommender.collaborative import ItemModel
from cinemesh.services.recommender.dataset import read_csv
from cinemesh.services.recommender.rows import build_rows
from cinemesh.services.recommender.service import ProfileHistory, TrainingData
from cinemesh.services.recommender.snapshot import build_snapshot

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "movielens-latest-small"


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 3),
    }


def training() -> dict[str, Any]:
    data = read_csv(DATA / "ratings.csv")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    model = ItemModel.fit(data)
    took = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "interactions": len(data),
        "users": len(data.user_ids),
        "items": len(data.item_ids),
        "train_s": round(took, 2),
        "peak_traced_mb": round(peak / 2**20, 1),
        "max_rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
        "neighbours": int(model.weights.nnz),
    }


def catalog_rows() -> list[dict[str, Any]]:
    rng = random.Random(3)
    now = datetime.now(UTC).isoformat()
    with (DATA / "movies.csv").open(newline="", encoding="utf-8") as handle:
        return [
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


def in_process(requests: int) -> dict[str, Any]:
    data = read_csv(DATA / "ratings.csv")
    records = [
        (data.user_ids[u], data.item_ids[i], float(w), float(t))
        for u, i, w, t in zip(data.users, data.items, data.weights, data.timestamps, strict=True)
    ]
    snapshot = build_snapshot(TrainingData(records, catalog_rows()))
    by_user: dict[str, list[tuple[float, str, float]]] = {}
    for user, item, weight, at in records:
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


async def publish(platform: LocalPlatform, events: list[Event]) -> None:
    bus = EventBus(platform.env["CINEMESH_NATS_URL"], service="bench", namespace="cinemesh")
    await bus.connect()
    try:
        for evt in events:
            await bus.publish(evt)
    finally:
        await bus.close()


def over_http(users: int, requests: int) -> dict[str, Any]:
    data = read_csv(DATA / "ratings.csv")
    chosen = set(random.Random(9).sample(data.user_ids, users))
    titles = {t["title_id"]: t for t in catalog_rows()}
    watched, used = [], set()
    for u, i, t in zip(data.users, data.items, data.timestamps, strict=True):
        if data.user_ids[u] in chosen:
            title = data.item_ids[i]
            used.add(title)
            at = datetime.fromtimestamp(float(t), UTC).isoformat()
            payload = TitleWatched(profile_id=data.user_ids[u], title_id=title, at=at)
            watched.append(Event(type=payload.TYPE, data=payload.model_dump(mode="json")))
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
    results: dict[str, Any] = {"profiles": users, "watched_events": len(watched)}
    for cache_s in ("0", "1"):
        with tempfile.TemporaryDirectory() as folder, nats_server(Path(folder) / "js") as url:
            platform = LocalPlatform(
                Path(folder) / "data",
                services=["registry", "recommender"],
                env={"CINEMESH_RECOMMENDER_ROWS_CACHE_S": cache_s, "CINEMESH_NATS_URL": url},
            ).start()
            try:
                asyncio.run(publish(platform, upserts + watched))
                base = platform.url_of("recommender")
                with httpx.Client(headers=platform.headers, timeout=30) as client:
                    deadline = time.monotonic() + 300
                    while time.monotonic() < deadline:
                        model = client.post(base + "/v1/retrain").json()["model"]
                        if model["interactions"] >= len(
                            {(e.data["profile_id"], e.data["title_id"]) for e in watched}
                        ):
                            break
                        time.sleep(1)
                    results["model"] = model
                    profiles = sorted(chosen)
                    samples = []
                    started = time.perf_counter()
                    for n in range(requests):
                        began = time.perf_counter()
                        got = client.get(
                            base + "/v1/rows",
                            params={"profile_id": profiles[n % len(profiles)], "limit": 20},
                        )
                        samples.append(time.perf_counter() - began)
                        assert got.status_code == 200, got.text
                    total = time.perf_counter() - started
                key = "no_cache" if cache_s == "0" else "cache_1s"
                results[key] = {
                    "requests": requests,
                    "requests_per_s_one_client": round(requests / total, 1),
                    **percentiles(samples),
                }
            finally:
                platform.stop()
    return results


@contextmanager
def nats_server(store: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--http-users", type=int, default=60)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    if not (DATA / "ratings.csv").exists():
        raise SystemExit(f"no MovieLens data at {DATA}")
    report: dict[str, Any] = {"training": training(), "rows_in_process": in_process(args.requests)}
    if not args.skip_http:
        report["rows_over_http"] = over_http(args.http_users, args.requests)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
