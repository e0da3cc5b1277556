"""Seeding the catalog: the demo catalog (movies and series with fixed ids, artwork drawn by the
catalog) that the first `cinemesh up` loads, and MovieLens imports (movies into the catalog,
ratings kept as interactions for the recommender). Titles go to the catalog's bulk import with
the service credential; demo videos go to the encoder (`attach_demo_media`, through
`cinemesh.demo.upload`). `cinemesh up` and `cinemesh seed` call it; the bench suite reads
`SEED_MODE_ENV` from it."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from cinemesh.demo.upload import DemoTitle, DemoVideosFailed, attach_demo_videos
from cinemesh.runner.client import auth_headers, healthy_port, instances
from cinemesh.runner.layout import Layout, available_services

BATCH = 500
CATALOG_WAIT_S = 120.0
DEMO_VIDEO_MOVIES = 6
DEMO_VIDEO_EPISODES = 2
SEED_MODE_ENV = "CINEMESH_SEED_DEMO"  # "full" (default), "catalog" (no videos) or "off"
console = Console()
Progress = Callable[[int, int], None]

# title, kind, genres, year, maturity rating, runtime (min; per episode for a series)
MOVIES: list[tuple[str, list[str], int, str, int]] = [
    ("The Last Lighthouse", ["Drama", "Mystery"], 2019, "PG-13", 112),
    ("Neon Harbor", ["Sci-Fi", "Thriller"], 2022, "R", 124),
    ("Paper Moons", ["Romance", "Comedy"], 2015, "PG-13", 98),
    ("Iron Orchard", ["Action", "Drama"], 2018, "R", 131),
    ("The Whispering Dunes", ["Adventure", "Fantasy"], 2011, "PG", 118),
    ("Midnight Cartographer", ["Mystery", "Thriller"], 2020, "PG-13", 109),
    ("Glass Gardens", ["Drama"], 2008, "PG", 101),
    ("Rocket Raccoons", ["Animation", "Family", "Comedy"], 2021, "G", 88),
    ("Cold Signal", ["Sci-Fi", "Horror"], 2017, "R", 97),
    ("The Baker's Dozen", ["Comedy", "Family"], 2012, "PG", 94),
    ("Velvet Thunder", ["Action", "Crime"], 2016, "R", 115),
    ("A Quiet Frontier", ["Western", "Drama"], 2005, "PG-13", 127),
    ("Starlit Express", ["Animation", "Adventure", "Family"], 2019, "G", 92),
    ("The Hollow Choir", ["Horror", "Mystery"], 2014, "R", 103),
    ("Salt and Saffron", ["Romance", "Drama"], 2018, "PG-13", 106),
    ("Overclocked", ["Action", "Sci-Fi"], 2023, "PG-13", 119),
    ("Dinosaur Detectives", ["Animation", "Family", "Mystery"], 2016, "G", 85),
    ("The Cartographer's Daughter", ["Drama", "Adventure"], 1998, "PG", 121),
    ("Blue Static", ["Documentary", "Music"], 2021, "PG", 90),
    ("Sunday Crossword", ["Comedy"], 2010, "PG-13", 95),
    ("Frostbite Protocol", ["Thriller", "Action"], 2015, "R", 113),
    ("The Lantern Keeper", ["Fantasy", "Family"], 2007, "PG", 104),
    ("Deep Field", ["Documentary", "Sci-Fi"], 2019, "G", 82),
    ("Second Breakfast Club", ["Comedy", "Family"], 2013, "PG", 91),
    ("Black Tide", ["Horror", "Thriller"], 2020, "R", 99),
    ("Orbiting Home", ["Sci-Fi", "Drama"], 2014, "PG-13", 128),
    ("Kings of Tin Street", ["Crime", "Drama"], 1994, "R", 134),
    ("The Maple Heist", ["Crime", "Comedy"], 2017, "PG-13", 102),
    ("Tiny Giants", ["Documentary", "Family"], 2018, "G", 78),
    ("Echoes of Avalon", ["Fantasy", "Adventure"], 2022, "PG-13", 137),
    ("Late Checkout", ["Comedy", "Romance"], 2019, "PG-13", 97),
    ("The Seventh Lock", ["Mystery", "Crime"], 2009, "PG-13", 111),
    ("Skyward Bound", ["Animation", "Adventure"], 2020, "PG", 96),
    ("Rust and Bone Road", ["Western", "Action"], 2011, "R", 118),
    ("Northern Lights Diner", ["Drama", "Comedy"], 2016, "PG", 100),
    ("Strange Harbour", ["Drama", "Mystery"], 1999, "PG-13", 108),
    ("Quantum of Lemons", ["Comedy", "Sci-Fi"], 2018, "PG", 93),
    ("The Silent Pines", ["Horror"], 2013, "R", 96),
    ("Marathon Hearts", ["Romance", "Sports"], 2015, "PG", 105),
    ("Undertow", ["Thriller", "Drama"], 2021, "R", 117),
    ("Polar Express Lane", ["Family", "Comedy"], 2006, "G", 89),
    ("Chrome Samurai", ["Action", "Animation"], 2019, "PG-13", 110),
    ("The Archivist", ["Mystery", "Drama"], 2004, "PG-13", 114),
    ("Wild Honey", ["Documentary", "Nature"], 2017, "G", 80),
    ("Gravity's Rainbow Room", ["Music", "Drama"], 2012, "PG-13", 107),
    ("Burning Daylight", ["Action", "Thriller"], 2023, "R", 122),
    ("Little Sprouts", ["Family", "Animation"], 2020, "G", 76),
    ("Checkmate in Prague", ["Thriller", "Crime"], 2008, "PG-13", 116),
    ("The Long Table", ["Drama", "Family"], 2022, "PG", 103),
    ("Hearts of Static", ["Sci-Fi", "Romance"], 2016, "PG-13", 109),
    ("Grave Expectations", ["Horror", "Comedy"], 2018, "R", 94),
    ("Summit Fever", ["Adventure", "Documentary"], 2014, "PG", 99),
]
SERIES: list[tuple[str, list[str], int, str, int, list[int]]] = [
    ("Stranger Things", ["Sci-Fi", "Horror", "Drama"], 2016, "PG-13", 50, [4, 4]),
    ("The Crown Affair", ["Drama", "History"], 2016, "PG-13", 58, [3, 3]),
    ("Dark Meridian", ["Sci-Fi", "Mystery"], 2017, "R", 55, [4]),
    ("Kitchen Confidential Club", ["Comedy", "Reality"], 2019, "PG", 30, [5]),
    ("Ocean Planet", ["Documentary", "Nature"], 2020, "G", 48, [6]),
    ("Money Vault", ["Crime", "Thriller"], 2017, "R", 45, [4, 3]),
    ("Witcher's Road", ["Fantasy", "Action"], 2019, "R", 60, [4]),
    ("Bubble Town", ["Animation", "Family", "Comedy"], 2021, "G", 22, [6]),
    ("The Office Plants", ["Comedy"], 2018, "PG-13", 24, [5, 5]),
    ("Strange Things Happen", ["Comedy", "Mystery"], 2023, "PG", 28, [4]),
]
PEOPLE = [
    "Ada Lane", "Bruno Okafor", "Chiara Rossi", "Dev Patel-Ng", "Elena Marsh", "Farid Haddad",
    "Greta Lind", "Hiro Tanaka", "Ines Duarte", "Jonah Price", "Kemi Adeyemi", "Lucas Brandt",
    "Maya Cohen", "Nils Berg", "Olivia Stone", "Pablo Vega", "Quinn Harper", "Rosa Alvarez",
    "Sam Whitaker", "Tara Singh", "Uma Kowalski", "Victor Hale", "Wen Li", "Yara Nasser",
]  # fmt: skip
EPISODE_NAMES = [
    "The Vanishing", "The Signal", "Into the Dark", "Old Friends", "The Gate", "Homecoming",
    "Static", "The Map", "Low Tide", "The Reckoning", "First Light", "Last Call",
]  # fmt: skip
MOOD = {
    "Horror": "something is waiting in the dark",
    "Comedy": "nothing goes to plan and everyone laughs about it later",
    "Sci-Fi": "the future arrives earlier than anyone expected",
    "Drama": "old wounds and new choices collide",
    "Family": "a family learns to work together",
    "Documentary": "the real world turns out stranger than fiction",
    "Thriller": "every minute counts and nobody can be trusted",
    "Romance": "two people keep almost meeting",
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "title"


def _pick(name: str, pool: list[str], count: int) -> list[str]:
    start = zlib.crc32(name.encode())
    return [pool[(start + k * 7) % len(pool)] for k in range(count)]


def _synopsis(name: str, genres: list[str]) -> str:
    mood = next((MOOD[g] for g in genres if g in MOOD), "an unlikely journey begins")
    return f"In {name}, {mood}."


def _popularity(rank: int, count: int) -> float:
    return round(100.0 * (count - rank) / count, 2)


def _movie(rank: int, count: int, row: tuple[str, list[str], int, str, int]) -> dict[str, Any]:
    name, genres, year, rating, runtime = row
    return {
        "id": f"demo-{slug(name)}",
        "title": name,
        "kind": "movie",
        "genres": genres,
        "year": year,
        "maturity_rating": rating,
        "runtime_min": runtime,
        "synopsis": _synopsis(name, genres),
        "cast": _pick(name, PEOPLE, 4),
        "crew": _pick(name[::-1], PEOPLE, 2),
        "popularity": _popularity(rank, count),
    }


def _series(
    rank: int, count: int, row: tuple[str, list[str], int, str, int, list[int]]
) -> dict[str, Any]:
    name, genres, year, rating, runtime, seasons = row
    episodes = [
        {
            "season": season,
            "number": number,
            "name": EPISODE_NAMES[(season * 5 + number) % len(EPISODE_NAMES)],
            "runtime_min": runtime,
            "synopsis": f"Season {season}, episode {number} of {name}.",
        }
        for season, size in enumerate(seasons, 1)
        for number in range(1, size + 1)
    ]
    return {**_movie(rank, count, (name, genres, year, rating, runtime)), "kind": "series",
            "episodes": episodes}  # fmt: skip


def demo_titles() -> list[dict[str, Any]]:
    """Every demo title as the catalog's bulk import takes it, most popular first."""
    count = len(MOVIES) + len(SERIES)
    series = [_series(rank, count, row) for rank, row in enumerate(SERIES)]
    movies = [_movie(rank + len(SERIES), count, row) for rank, row in enumerate(MOVIES)]
    interleaved = [series[0], *movies[:3], *series[1:], *movies[3:]]
    for rank, title in enumerate(interleaved):
        title["popularity"] = _popularity(rank, count)
    return interleaved


# --- MovieLens ---------------------------------------------------------------------------------
ML_YEAR = re.compile(r"^(?P<name>.*?)\s*\((?P<year>\d{4})(?:[-\u2013]\d{0,4})?\)\s*$")
ML_ARTICLE = re.compile(
    r"^(?P<name>.+?), (?P<article>The|A|An|Les|La|Le|L'|Il|El|Das|Der|Die)(?P<rest> \(.*\))?$"
)
ML_GENRE_FIXES = {"(no genres listed)": "", "Children": "Family"}


def movielens_name(raw: str) -> tuple[str, int | None]:
    """ "American President, The (1995)" → ("The American President", 1995)."""
    found = ML_YEAR.match(raw.strip())
    name, year = (found["name"], int(found["year"])) if found else (raw.strip(), None)
    article = ML_ARTICLE.match(name)
    if article:
        joiner = "" if article["article"].endswith("'") else " "
        name = f"{article['article']}{joiner}{article['name']}{article['rest'] or ''}"
    if year is not None and not 1870 <= year <= 2100:
        year = None
    return name[:300] or raw[:300], year


def movielens_rating(genres: list[str]) -> str:
    """MovieLens has no maturity ratings: an estimate from the genres."""
    if "Horror" in genres:
        return "R"
    if "Family" in genres:
        return "G" if "Animation" in genres else "PG"
    if {"Crime", "War", "Thriller"} & set(genres):
        return "R" if "Crime" in genres and "Thriller" in genres else "PG-13"
    return "PG-13"


def movielens_titles(folder: Path, popularity: Counter[str]) -> Iterator[dict[str, Any]]:
    """Titles from movies.csv (`movieId,title,genres`), ids `ml-<movieId>`."""
    with (folder / "movies.csv").open(newline="", encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            name, year = movielens_name(row["title"])
            genres = [ML_GENRE_FIXES.get(g, g)[:40] for g in row["genres"].split("|")]
            genres = list(dict.fromkeys(g for g in genres if g))[:10]
            title_id = f"ml-{row['movieId']}"
            yield {
                "id": title_id,
                "title": name,
                "kind": "movie",
                "genres": genres,
                "year": year,
                "maturity_rating": movielens_rating(genres),
                "popularity": float(popularity.get(title_id, 0)),
            }


def movielens_interactions(folder: Path, data_dir: Path) -> tuple[Path, Counter[str]]:
    """Copy ratings.csv to `<data_dir>/recommender/interactions.csv` (`user,item,rating,
    timestamp`, item = the catalog title id); answers the path and ratings per title."""
    target = data_dir / "recommender" / "interactions.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    source = folder / "ratings.csv"
    if not source.exists():
        return target, counts
    tmp = target.with_name(f".interactions.{os.getpid()}.tmp")
    with source.open(newline="", encoding="utf-8") as rows, tmp.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["user", "item", "rating", "timestamp"])
        for row in csv.DictReader(rows):
            item = f"ml-{row['movieId']}"
            counts[item] += 1
            writer.writerow([row["userId"], item, row["rating"], row["timestamp"]])
    tmp.replace(target)
    return target, counts


# --- talking to the catalog --------------------------------------------------------------------
async def running_catalog_url(http: httpx.AsyncClient, layout: Layout, wait_s: float) -> str:
    """A healthy catalog instance of the local platform, from its supervisor."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        port = await healthy_port(http, layout, "catalog")
        if port is not None:
            return f"http://127.0.0.1:{port}"
        if asyncio.get_running_loop().time() > deadline:
            raise SeedingFailed("no healthy catalog instance; is cinemesh up running with it?")
        await asyncio.sleep(0.5)


class SeedingFailed(Exception):
    """The catalog refused or could not be reached; the message says why."""


def batches(titles: list[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(titles), size):
        yield titles[start : start + size]


async def push_titles(
    http: httpx.AsyncClient,
    catalog_url: str,
    titles: list[dict[str, Any]],
    *,
    progress: Progress | None = None,
) -> int:
    """Create or replace `titles` in the catalog in batches; each batch is idempotent, so a
    failed one is retried."""
    done = 0
    for batch in batches(titles):
        await _put_batch(http, catalog_url, batch)
        done += len(batch)
        if progress:
            progress(done, len(titles))
    return done


async def _put_batch(
    http: httpx.AsyncClient, catalog_url: str, batch: list[dict[str, Any]]
) -> None:
    problem = ""
    for attempt in range(4):
        try:
            answer = await http.put(
                f"{catalog_url}/v1/titles/bulk", json={"titles": batch}, timeout=120
            )
        except httpx.HTTPError as exc:
            problem = str(exc) or type(exc).__name__
        else:
            if answer.status_code == 200:
                return
            problem = f"HTTP {answer.status_code}: {answer.text[:300]}"
            if answer.status_code < 500 and answer.status_code != 429:
                break
        await asyncio.sleep(0.5 * 2**attempt)
    raise SeedingFailed(f"the catalog refused a batch: {problem}")


# --- the first run -----------------------------------------------------------------------------
async def seed_first_run(layout: Layout, gateway_url: str, marker: Path) -> None:
    """What `cinemesh up` does once on a fresh data dir: load the demo catalog, give a few
    titles real videos (only when the whole platform runs, not a partial `--only` one such as
    the tests start), then write `marker` so it never happens again."""
    mode = os.environ.get(SEED_MODE_ENV, "full").lower()
    if mode == "off":
        return
    titles = demo_titles()
    try:
        async with httpx.AsyncClient(headers=auth_headers(layout)) as http:
            running = await _running_services(http, layout)
            if "catalog" not in running:
                return  # a partial platform (`--only`) without the catalog: nothing to seed
            catalog_url = await running_catalog_url(http, layout, CATALOG_WAIT_S)
            console.print(f"seeding the demo catalog ({len(titles)} titles) ...")
            await push_titles(http, catalog_url, titles)
            if mode != "catalog" and running >= set(available_services()):
                await attach_demo_media(layout, http, catalog_url, titles)
    except SeedingFailed as exc:
        console.print(f"[yellow]demo catalog not seeded: {exc}[/yellow]")
        return
    marker.write_text("demo\n")
    console.print(f"[green]demo catalog ready[/green]: {gateway_url}")


# --- demo videos -----------------------------------------------------------------------------
async def demo_video_targets(
    http: httpx.AsyncClient, catalog_url: str, titles: list[dict[str, Any]]
) -> list[DemoTitle]:
    """The most popular demo movies and the first episodes of the most popular series."""
    movies = [t for t in titles if t["kind"] == "movie"][:DEMO_VIDEO_MOVIES]
    targets = [DemoTitle(t["id"], t["title"]) for t in movies]
    series = next((t for t in titles if t["kind"] == "series"), None)
    if series is not None:
        answer = await http.get(f"{catalog_url}/v1/titles/{series['id']}", timeout=10)
        episodes = [e for s in answer.json().get("seasons", []) for e in s["episodes"]]
        targets += [
            DemoTitle(series["id"], f"{series['title']} E{e['number']}", e["id"])
            for e in episodes[:DEMO_VIDEO_EPISODES]
        ]
    return targets


async def attach_demo_media(
    layout: Layout, http: httpx.AsyncClient, catalog_url: str, titles: list[dict[str, Any]]
) -> None:
    """Make real videos for a few demo titles and wait until they are encoded
    (`media.asset.ready` then links each to its title in the catalog). Skipped when this
    platform runs no encoder; a failed encode leaves that title unplayable, nothing more."""
    if "encoder" not in await _running_services(http, layout):
        return
    targets = await demo_video_targets(http, catalog_url, titles)
    console.print(f"making {len(targets)} demo videos (a few minutes on 2 cores) ...")
    try:
        final = await attach_demo_videos(layout, targets)
    except DemoVideosFailed as exc:
        console.print(f"[yellow]demo videos not made: {exc}[/yellow]")
        return
    ready = sum(1 for job in final.values() if job.get("state") == "ready")
    console.print(f"demo videos: {ready} of {len(targets)} ready")


async def _running_services(http: httpx.AsyncClient, layout: Layout) -> set[str]:
    """The services the local supervisor runs (empty when it cannot be asked)."""
    return {str(i["service"]) for i in await instances(http, layout)}
