"""Search and catalog benchmark: the in-process search index at 10k and 100k generated titles
(typo-tolerant queries with filters and facets, and prefix queries as you type), side by side
with a plain SQLite FTS5 prefix query on the same data in the same run (goal: p99 <= 5 ms at
100k); the same kind of query through the gateway at 100k titles (a running search instance
that replayed the catalog's events; goal: p99 <= 20 ms), beside the search service asked
directly; and the catalog's batch get of 40 titles (one query) on SQLite, against 40 single
gets. Prints JSON.

    .venv/bin/python bench/search_bench.py [--quick | --tiny] [--sizes N ...] [--queries N]

--tiny: 2k titles, 50 queries; --quick: 10k and 100k, 100 queries; full: 10k and 100k, 500.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from cinemesh.contracts.catalog import TitleUpserted
from cinemesh.contracts.maturity import RATINGS, level
from cinemesh.platform.events import Event, EventBus
from cinemesh.runner.layout import free_port
from cinemesh.runner.local import LocalPlatform
from cinemesh.runner.natsd import start_embedded_nats
from cinemesh.services.catalog.public import Base, Catalog, Title, summary
from cinemesh.services.search.public import Doc, Query, TitleIndex, terms

GENRES = [
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family",
    "Fantasy", "History", "Horror", "Music", "Mystery", "Romance", "Sci-Fi", "Sports",
    "Thriller", "War", "Western", "Reality",
]  # fmt: skip
ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
          "w", "z", "br", "cr", "dr", "st", "str", "th", "sh", "ch", "gl", "pl", "tr"]  # fmt: skip
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
CODAS = ["", "n", "r", "s", "t", "l", "nd", "rk", "st", "ng", "x", "m"]


def make_vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        syllables = rng.choice([1, 2, 2, 3])
        word = "".join(
            rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables)
        )
        if 3 <= len(word) <= 12:
            words.add(word)
    return sorted(words)


def make_titles(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Generated titles: Zipf-ish word use, 1-3 genres, a year, a rating, a popularity."""
    vocabulary = make_vocabulary(rng, max(2000, count // 3))
    cumulative = list(accumulate(1 / (rank + 1) ** 0.8 for rank in range(len(vocabulary))))
    names = [f"{rng.choice(ONSETS).title()}{rng.choice(VOWELS)} {rng.choice(vocabulary).title()}"
             for _ in range(500)]  # fmt: skip
    titles = []
    for n in range(count):
        words = rng.choices(vocabulary, cum_weights=cumulative, k=rng.choice([1, 2, 2, 3, 3, 4]))
        titles.append(
            {
                "id": f"t{n}",
                "title": " ".join(w.title() for w in words),
                "genres": rng.sample(GENRES, rng.choice([1, 2, 2, 3])),
                "year": rng.randint(1950, 2024),
                "maturity_rating": rng.choice(RATINGS),
                "popularity": round(rng.paretovariate(1.5), 3),
                "cast": rng.sample(names, 3),
            }
        )
    return titles


def typo(word: str, rng: random.Random) -> str:
    """One edit: drop, double or swap a letter (words under 4 letters stay as they are)."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    edit = rng.choice(["drop", "double", "swap"])
    if edit == "drop":
        return word[:i] + word[i + 1 :]
    if edit == "double":
        return word[:i] + word[i] + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def make_queries(
    rng: random.Random, titles: list[dict[str, Any]], count: int
) -> list[dict[str, Any]]:
    """Queries a person types: a word with a typo, the last word cut short (a prefix), and
    filters from the target title (genre, a 20-year range, a maturity cap)."""
    queries = []
    for target in rng.sample(titles, count):
        words = terms(target["title"])
        last = words[-1][: max(2, len(words[-1]) - rng.randint(0, 3))]
        head = [typo(words[0], rng)] if len(words) > 1 else []
        queries.append(
            {
                "words": [*words[:-1], last],
                "text": " ".join([*head, *words[1:-1], last]),
                "genre": rng.choice(target["genres"]),
                "year_from": target["year"] - 10,
                "year_to": target["year"] + 10,
                "max_maturity": max(level(target["maturity_rating"]), 2),
            }
        )
    return queries


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "max_ms": round(ordered[-1], 3),
    }


def timed(run: Callable[[dict[str, Any]], Any], queries: list[dict[str, Any]]) -> dict[str, Any]:
    """Latency of each query once (p50/p99), and of its best of 3 runs (what the code costs
    with the noise of a shared machine taken out)."""
    for query in queries[:20]:
        run(query)  # warm caches (SQLite pages, the allocator)
    once, best, found = [], [], 0
    gc.disable()
    try:
        for query in queries:
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                hits = run(query)
                runs.append((time.perf_counter() - started) * 1000)
            found += 1 if hits else 0
            once.append(runs[0])
            best.append(min(runs))
    finally:
        gc.enable()
    best_of_3 = percentiles(best)
    return {
        **percentiles(once),
        "best_of_3_p50_ms": best_of_3["p50_ms"],
        "best_of_3_p99_ms": best_of_3["p99_ms"],
        "queries": len(queries),
        "with_hits": found,
    }


# --- the search index ----------------------------------------------------------------------------
def build_index(titles: list[dict[str, Any]]) -> TitleIndex:
    index = TitleIndex()
    for t in titles:
        index.upsert(
            Doc(
                id=t["id"],
                title=t["title"],
                kind="movie",
                genres=t["genres"],
                year=t["year"],
                maturity_rating=t["maturity_rating"],
                maturity_level=level(t["maturity_rating"]),
                popularity=t["popularity"],
                cast=t["cast"],
            )
        )
    return index


def index_search(index: TitleIndex, *, filters: bool) -> Callable[[dict[str, Any]], int]:
    def run(q: dict[str, Any]) -> int:
        result = index.search(
            Query(
                text=q["text"],
                genre=q["genre"] if filters else None,
                year_from=q["year_from"] if filters else None,
                year_to=q["year_to"] if filters else None,
                max_maturity_level=q["max_maturity"] if filters else None,
                limit=20,
            )
        )
        return int(result["total"])

    return run


# --- SQLite FTS5, the plain alternative ------------------------------------------------------------
def build_fts(titles: list[dict[str, Any]]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE titles (rowid INTEGER PRIMARY KEY, id TEXT, title TEXT, year INT,"
        " maturity INT, popularity REAL, genres TEXT)"
    )
    db.execute("CREATE VIRTUAL TABLE fts USING fts5(title, cast_names, content='')")
    db.executemany(
        "INSERT INTO titles VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (n, t["id"], t["title"], t["year"], level(t["maturity_rating"]), t["popularity"],
             "|" + "|".join(t["genres"]) + "|")
            for n, t in enumerate(titles)
        ],
    )  # fmt: skip
    db.executemany(
        "INSERT INTO fts (rowid, title, cast_names) VALUES (?, ?, ?)",
        [(n, t["title"], " ".join(t["cast"])) for n, t in enumerate(titles)],
    )
    db.execute("CREATE INDEX titles_year ON titles (year)")
    return db


def fts_search(db: sqlite3.Connection, *, filters: bool) -> Callable[[dict[str, Any]], int]:
    """The correctly spelt words with the last as a prefix (FTS5 has no typo tolerance), ranked
    by bm25 then popularity, the same filters, and genre counts as a facet."""
    where = " AND t.genres LIKE ? AND t.year BETWEEN ? AND ? AND t.maturity <= ?" if filters else ""

    def run(q: dict[str, Any]) -> int:
        match = " ".join(f'"{w}"' for w in q["words"][:-1]) + f' "{q["words"][-1]}"*'
        args: list[Any] = [match.strip()]
        if filters:
            args += [f"%|{q['genre']}|%", q["year_from"], q["year_to"], q["max_maturity"]]
        base = f"FROM fts JOIN titles t ON t.rowid = fts.rowid WHERE fts MATCH ?{where}"
        hits = db.execute(
            f"SELECT t.id {base} ORDER BY bm25(fts), t.popularity DESC LIMIT 20", args
        ).fetchall()
        db.execute(f"SELECT t.genres, count(*) {base} GROUP BY t.genres", args).fetchall()
        return len(hits)

    return run


# --- the catalog's batch get -----------------------------------------------------------------------
async def batch_get(titles: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    """Catalog.batch for 40 random ids at a time, on a SQLite catalog of these titles."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_async_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'catalog.db'}")
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            session.add_all(catalog_row(t, now) for t in titles)
        catalog = Catalog(stage=_no_events)
        rng = random.Random(7)
        ids = [t["id"] for t in titles]
        samples, singles = [], []
        for _ in range(rounds):
            row = rng.sample(ids, 40)
            started = time.perf_counter()
            async with sessions() as session:
                found = await catalog.batch(session, row)
            samples.append((time.perf_counter() - started) * 1000)
            assert len(found) == 40
            started = time.perf_counter()
            async with sessions() as session:
                one_by_one = [summary(await catalog.get(session, i)) for i in row]
            singles.append((time.perf_counter() - started) * 1000)
            assert len(one_by_one) == 40
        await engine.dispose()
    return {
        **percentiles(samples),
        "forty_single_gets": percentiles(singles),
        "titles": len(titles),
        "batch": 40,
        "rounds": rounds,
    }


async def _no_events(*_args: Any, **_kwargs: Any) -> None:
    return None


def catalog_row(t: dict[str, Any], now: datetime) -> Title:
    return Title(
        id=t["id"],
        title=t["title"],
        kind="movie",
        year=t["year"],
        runtime_min=100,
        maturity_rating=t["maturity_rating"],
        maturity_level=level(t["maturity_rating"]),
        synopsis="",
        genres=t["genres"],
        cast=t["cast"],
        crew=[],
        popularity=t["popularity"],
        available=True,
        asset=None,
        created_at=now,
        updated_at=now,
    )


def bench_size(size: int, queries: int, *, batch_rounds: int) -> dict[str, Any]:
    rng = random.Random(size)
    titles = make_titles(rng, size)
    asked = make_queries(rng, titles, queries)
    started = time.perf_counter()
    index = build_index(titles)
    build_s = time.perf_counter() - started
    db = build_fts(titles)
    return {
        "titles": size,
        "index_build_s": round(build_s, 2),
        "vocabulary": len(index.vocabulary),
        "index": {
            "typo_prefix_filters_facets": timed(index_search(index, filters=True), asked),
            "typo_prefix_facets_no_filters": timed(index_search(index, filters=False), asked),
            "match_all_facets": timed(
                lambda q: index.search(Query(limit=20))["total"], asked[: max(50, queries // 5)]
            ),
        },
        "sqlite_fts5_prefix": {
            "prefix_filters_facets": timed(fts_search(db, filters=True), asked),
            "prefix_no_filters": timed(fts_search(db, filters=False), asked),
        },
        "batch_get_40": asyncio.run(batch_get(titles, rounds=batch_rounds))
        if batch_rounds
        else None,
    }


# --- through the gateway -------------------------------------------------------------------------
THROUGH_GATEWAY = ["registry", "identity", "profiles", "search", "gateway"]


def upserted(t: dict[str, Any]) -> Event:
    title = TitleUpserted(
        title_id=t["id"],
        title=t["title"],
        kind="movie",
        genres=t["genres"],
        year=t["year"],
        maturity_rating=t["maturity_rating"],
        cast=t["cast"],
        popularity=t["popularity"],
        revision=1,
    )
    return Event(type=TitleUpserted.TYPE, data=title.model_dump(), source="catalog", key=t["id"])


async def publish_catalog(nats_url: str, titles: list[dict[str, Any]]) -> None:
    """The catalog's events, published straight to the bus (what search replays at start)."""
    bus = EventBus(nats_url, service="bench")
    await bus.connect()
    try:
        for start in range(0, len(titles), 500):
            await asyncio.gather(*(bus.publish(upserted(t)) for t in titles[start : start + 500]))
    finally:
        await bus.close()


async def with_embedded_nats(work: Callable[[str], Any], store: Path) -> Any:
    port = free_port()
    nats = await start_embedded_nats(port=port, store_dir=store, log_file=store / "nats.log")
    try:
        return await asyncio.to_thread(work, f"nats://127.0.0.1:{port}")
    finally:
        nats.terminate()
        await nats.wait()


def sequential_latency(
    client: httpx.Client,
    url: str,
    queries: list[dict[str, Any]],
    params_of: Callable[[dict[str, Any]], dict[str, Any]],
    headers: dict[str, str],
) -> dict[str, Any]:
    """One query at a time, as one person typing: the latency a request sees with no queue."""
    samples = []
    for n, query in enumerate([*queries[:20], *queries]):
        started = time.perf_counter()
        answer = client.get(url, params=params_of(query), headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, answer.text[:300]
        if n >= 20:  # the first 20 warm connections and caches
            samples.append(elapsed)
    return {**percentiles(samples), "queries": len(samples)}


def through_gateway(titles: list[dict[str, Any]], queries: list[dict[str, Any]]) -> dict[str, Any]:
    """p50/p99 of the same queries through the gateway (token check, profile maturity, proxy)
    and asked of the search service directly, one search instance holding every title."""
    scratch = Path(tempfile.mkdtemp(prefix="cm-bench-search-"))

    def measure(nats_url: str) -> dict[str, Any]:
        asyncio.run(publish_catalog(nats_url, titles))
        platform = LocalPlatform(
            scratch / "data",
            services=THROUGH_GATEWAY,
            env={
                "CINEMESH_NATS_URL": nats_url,
                "CINEMESH_GATEWAY_RATE_PER_IP": "0",
                "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0",
                "CINEMESH_LOG_LEVEL": "warning",
            },
        )
        platform.start(timeout_s=300)  # search is ready once it has replayed every title
        try:
            with httpx.Client(timeout=30) as client:
                token, profile_id = signed_in_viewer(client, platform.gateway)
                gateway = sequential_latency(
                    client,
                    f"{platform.gateway}/api/v1/search",
                    queries,
                    lambda q: {**http_filters(q), "profile_id": profile_id},
                    {"Authorization": f"Bearer {token}"},
                )
                direct = sequential_latency(
                    client,
                    f"{platform.url_of('search')}/v1/search",
                    queries,
                    lambda q: {**http_filters(q), "max_maturity": "R"},
                    {**platform.headers, "Authorization": f"Bearer {token}"},
                )
        finally:
            platform.stop()
        return {"titles": len(titles), "gateway": gateway, "search_directly": direct}

    try:
        return asyncio.run(with_embedded_nats(measure, scratch / "nats"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def http_filters(q: dict[str, Any]) -> dict[str, Any]:
    return {
        "q": q["text"],
        "genre": q["genre"],
        "year_from": q["year_from"],
        "year_to": q["year_to"],
    }


def signed_in_viewer(client: httpx.Client, gateway: str) -> tuple[str, str]:
    """A member with an adult profile capped at R, as most searching profiles are."""
    email, password = f"search-{uuid.uuid4().hex[:8]}@example.com", f"Bench-{uuid.uuid4().hex}"
    signup = client.post(
        f"{gateway}/api/v1/auth/signup", json={"email": email, "password": password}
    )
    assert signup.status_code == 201, signup.text
    token = client.post(
        f"{gateway}/api/v1/auth/login", json={"email": email, "password": password}
    ).json()["access_token"]
    profile = client.post(
        f"{gateway}/api/v1/profiles",
        json={"name": "Searcher", "maturity": "R"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert profile.status_code == 201, profile.text
    return token, str(profile.json()["id"])


MODES: dict[str, dict[str, Any]] = {
    "tiny": {"sizes": [2_000], "queries": 50, "batch_rounds": 20, "gateway_size": 2_000},
    "quick": {
        "sizes": [10_000, 100_000],
        "queries": 100,
        "batch_rounds": 100,
        "gateway_size": 100_000,
    },
    "full": {
        "sizes": [10_000, 100_000],
        "queries": 500,
        "batch_rounds": 200,
        "gateway_size": 100_000,
    },
}
GOAL_SIZE, GOAL_MS, GATEWAY_GOAL_MS = 100_000, 5.0, 20.0
MAIN = ("typo_prefix_filters_facets", "prefix_filters_facets")


def gateway_row(measured: dict[str, Any]) -> dict[str, Any]:
    mine, direct = measured["gateway"], measured["search_directly"]
    row = {
        "measurement": f"search p99 ms through the gateway, {measured['titles']:,} titles "
        "(one query at a time)",
        "baseline": "the search service called directly over HTTP",
        "value": mine["p99_ms"],
        "baseline_value": direct["p99_ms"],
        "ratio": round(mine["p99_ms"] / direct["p99_ms"], 3),
        "better": "lower",
    }
    if measured["titles"] == GOAL_SIZE:
        row["goal"] = f"p99 <= {GATEWAY_GOAL_MS:g} ms through the gateway at 100k"
    return row


def summarize(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        mine = r["index"][MAIN[0]]
        theirs = r["sqlite_fts5_prefix"][MAIN[1]]
        row = {
            "measurement": f"search p99 ms, {r['titles']:,} titles "
            "(typo-tolerant + prefix, filters, facets)",
            "baseline": "SQLite FTS5 prefix, same filters + genre facet",
            "value": mine["p99_ms"],
            "baseline_value": theirs["p99_ms"],
            "ratio": round(mine["p99_ms"] / theirs["p99_ms"], 3),
            "better": "lower",
        }
        if r["titles"] == GOAL_SIZE:
            row["goal"] = f"p99 <= {GOAL_MS:g} ms at 100k"
        rows.append(row)
    for r in results:
        batch = r["batch_get_40"]
        if batch is None:
            continue
        rows.append(
            {
                "measurement": f"catalog batch get of 40, p99 ms ({r['titles']:,} titles, SQLite)",
                "baseline": "40 single gets, one session",
                "value": batch["p99_ms"],
                "baseline_value": batch["forty_single_gets"]["p99_ms"],
                "ratio": round(batch["p99_ms"] / batch["forty_single_gets"]["p99_ms"], 3),
                "better": "lower",
            }
        )
    return rows


def latency_plot(results: list[dict[str, Any]]) -> dict[str, Any]:
    sizes = [r["titles"] for r in results]

    def series(name: str, side: str, kind: str, key: str) -> dict[str, Any]:
        return {"name": name, "x": sizes, "y": [r[side][kind][key] for r in results]}

    return {
        "title": "Search latency vs catalog size (typo + prefix, filters, facets)",
        "x_label": "titles",
        "y_label": "ms",
        "series": [
            series("index p50", "index", MAIN[0], "p50_ms"),
            series("index p99", "index", MAIN[0], "p99_ms"),
            series("FTS5 prefix p50", "sqlite_fts5_prefix", MAIN[1], "p50_ms"),
            series("FTS5 prefix p99", "sqlite_fts5_prefix", MAIN[1], "p99_ms"),
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k, fewer queries")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    parser.add_argument("--sizes", type=int, nargs="+", help="catalog sizes (override the mode)")
    parser.add_argument("--queries", type=int, help="queries per size (override the mode)")
    args = parser.parse_args()
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    chosen = {**MODES[mode]}
    if args.sizes:
        chosen["sizes"] = args.sizes
    if args.queries:
        chosen["queries"] = args.queries
    results = [
        bench_size(size, chosen["queries"], batch_rounds=chosen["batch_rounds"])
        for size in chosen["sizes"]
    ]
    rng = random.Random(chosen["gateway_size"])
    titles = make_titles(rng, chosen["gateway_size"])
    gateway = through_gateway(titles, make_queries(rng, titles, chosen["queries"]))
    machine = {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}
    report = {
        "benchmark": "search",
        "mode": mode,
        "search_bench": results,
        "through_gateway": gateway,
        "machine": machine,
        "summary": [*summarize(results), gateway_row(gateway)],
        "plots": [latency_plot(results)],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
