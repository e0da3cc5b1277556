"""recommender's costs and quality, each beside its baseline in the same run:
- quality: NDCG@10, Recall@20 and HR@10 of our model (recency-ease) against popularity,
  item-kNN and EASE, through the project's own harness (`cinemesh recs evaluate`, protocol in
  docs/recommender.md);
- training: wall time and peak memory (tracemalloc peak of Python + numpy allocations, and the
  process' max RSS growth) of a snapshot (the served model + trending) on every interaction;
- rows in-process: the domain alone (snapshot + a profile history -> every row), rows/s and
  p50/p99, for users of the data set with their real histories;
- rows over HTTP: a real recommender process (SQLite, embedded NATS) fed a slice of the data
  as `history.watched` and `catalog.title.upserted` events, `GET /v1/rows` p50/p99 and
  requests/s (goal p99 < 10 ms), with the short answer cache off and (not --tiny) on.

The data is MovieLens latest-small (../shared/data/movielens-latest-small) when it is there;
--tiny, and any mode without it, use a generated interaction set instead, and the output's
`data` field says which. Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
from cinemesh.services.recommender.dataset import read_csv
from cinemesh.services.recommender.rows import build_rows
from cinemesh.services.recommender.service import ProfileHistory, TrainingData
from cinemesh.services.recommender.snapshot import build_snapshot

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "movielens-latest-small"
GOAL_MS = 10.0
OURS = "recency-ease"
BASELINES = ("popularity", "item-knn (cosine)", "ease")
Record = tuple[str, str, float, float]  # user, item, weight, unix seconds


@dataclass(frozen=True)
class Mode:
    requests: int  # in-process rows
    http_users: int
    http_requests: int
    caches: tuple[str, ...]  # CINEMESH_RECOMMENDER_ROWS_CACHE_S values to run over HTTP
    generated: dict[str, int]  # the generated world's size, when it is used


MODES = {
    "tiny": Mode(
        300, 20, 300, ("0",), {"genres": 8, "titles_per_genre": 25, "users": 300, "per_user": 20}
    ),
    "quick": Mode(
        1000,
        12,
        1000,
        ("0",),
        {"genres": 16, "titles_per_genre": 100, "users": 1500, "per_user": 30},
    ),
    "full": Mode(
        5000,
        200,
        5000,
        ("0", "1"),
        {"genres": 20, "titles_per_genre": 250, "users": 5000, "per_user": 40},
    ),
}


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
def quality(world: World, folder: Path) -> dict[str, Any]:
    """`cinemesh recs evaluate` on the world's CSV: every model through one harness."""
    out = folder / "evaluation.json"
    command = ["recs", "evaluate", "--interactions", str(world.csv), "--json", str(out)]
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
async def publish(url: str, events: list[Event]) -> None:
    bus = EventBus(url, service="bench", namespace="cinemesh")
    await bus.connect()
    try:
        for evt in events:
            await bus.publish(evt)
    finally:
        await bus.close()


def events_for(world: World, users: int) -> tuple[list[str], list[Event], list[Event]]:
    """The chosen profiles, their interactions as `history.watched`, and the catalog titles
    they touch as `catalog.title.upserted`."""
    everyone = sorted({r[0] for r in world.records})
    chosen = set(random.Random(9).sample(everyone, min(users, len(everyone))))
    titles = {t["title_id"]: t for t in world.titles}
    watched, used = [], set()
    for user, title, _weight, at in world.records:
        if user in chosen:
            used.add(title)
            moment = datetime.fromtimestamp(at, UTC).isoformat()
            payload = TitleWatched(profile_id=user, title_id=title, at=moment)
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
    return sorted(chosen), upserts, watched


def over_http(world: World, mode: Mode) -> dict[str, Any]:
    profiles, upserts, watched = events_for(world, mode.http_users)
    pairs = len({(e.data["profile_id"], e.data["title_id"]) for e in watched})
    results: dict[str, Any] = {"profiles": len(profiles), "watched_events": len(watched)}
    for cache_s in mode.caches:
        with tempfile.TemporaryDirectory() as folder, nats_server(Path(folder) / "js") as url:
            platform = LocalPlatform(
                Path(folder) / "data",
                services=["registry", "recommender"],
                env={
                    "CINEMESH_RECOMMENDER_ROWS_CACHE_S": cache_s,
                    "CINEMESH_NATS_URL": url,
                    "CINEMESH_LOG_LEVEL": "warning",
                },
            ).start()
            try:
                began = time.perf_counter()
                asyncio.run(publish(url, upserts + watched))
                base = platform.url_of("recommender")
                with httpx.Client(headers=platform.headers, timeout=30) as client:
                    results["model"] = wait_for_model(client, base, interactions=pairs)
                    results["events_to_model_s"] = round(time.perf_counter() - began, 1)
                    for n in range(min(20, mode.http_requests)):  # warm up the connection
                        client.get(base + "/v1/rows", params={"profile_id": profiles[n % 5]})
                    samples = []
                    started = time.perf_counter()
                    for n in range(mode.http_requests):
                        began = time.perf_counter()
                        got = client.get(
                            base + "/v1/rows",
                            params={"profile_id": profiles[n % len(profiles)], "limit": 20},
                        )
                        samples.append(time.perf_counter() - began)
                        assert got.status_code == 200, got.text
                    total = time.perf_counter() - started
                key = "no_cache" if cache_s == "0" else f"cache_{cache_s}s"
                results[key] = {
                    "requests": mode.http_requests,
                    "requests_per_s_one_client": round(mode.http_requests / total, 1),
                    **percentiles(samples),
                }
            finally:
                platform.stop()
    return results


def wait_for_model(client: httpx.Client, base: str, *, interactions: int) -> dict[str, Any]:
    """Retrain until the model holds every published interaction (events arrive over time)."""
    deadline = time.monotonic() + 300
    while True:
        model: dict[str, Any] = client.post(base + "/v1/retrain").json()["model"]
        if model["interactions"] >= interactions or time.monotonic() > deadline:
            return model
        time.sleep(0.5)


@contextmanager
def phase(phases: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    phases[name] = round(time.perf_counter() - started, 1)


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
    rows.append(
        {
            "measurement": "GET /v1/rows over HTTP, p99 ms (no answer cache)",
            "baseline": "goal",
            "value": http["no_cache"]["p99_ms"],
            "baseline_value": GOAL_MS,
            "ratio": round(http["no_cache"]["p99_ms"] / GOAL_MS, 3),
            "better": "lower",
            "goal": f"p99 < {GOAL_MS:g} ms",
        }
    )
    if "cache_1s" in http:
        rows.append(
            {
                "measurement": "GET /v1/rows over HTTP, p99 ms (1 s answer cache)",
                "baseline": "no answer cache",
                "value": http["cache_1s"]["p99_ms"],
                "baseline_value": http["no_cache"]["p99_ms"],
                "ratio": round(http["cache_1s"]["p99_ms"] / http["no_cache"]["p99_ms"], 3),
                "better": "lower",
            }
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
            report["quality"] = quality(world, Path(tmp))
        with phase(phases, "training"):
            report["training"], snapshot = training(world)
        with phase(phases, "rows_in_process"):
            report["rows_in_process"] = in_process(world, snapshot, mode.requests)
        del snapshot
        if not args.skip_http:
            with phase(phases, "rows_over_http"):
                report["rows_over_http"] = over_http(world, mode)
        report["phase_s"] = phases
    summary = summarize(report)
    plots = [quality_plot(report["quality"])]
    print(json.dumps({**report, "summary": summary, "plots": plots}, indent=2))


if __name__ == "__main__":
    main()
