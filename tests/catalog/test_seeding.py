"""Seeding: the first `cinemesh up` loads the demo catalog once, `cinemesh seed --demo` replaces
rather than duplicates, and `cinemesh seed --movielens DIR` imports movies and keeps ratings
as interactions for the recommender (skipped when the data set is absent)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cinemesh.demo.seeding import demo_titles
from tests.catalog.api import NO_LIMITS, Caller, wait_for
from tests.support.platform import LocalPlatform
from tests.support.tokens import TokenMint

SERVICES = ["registry", "catalog", "search", "gateway"]
MOVIELENS = Path(os.environ.get("CINEMESH_MOVIELENS", "/work/shared/data/movielens-latest-small"))


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    data_dir = tmp_path_factory.mktemp("seeding")
    running = LocalPlatform(data_dir, services=SERVICES, env=NO_LIMITS).start(timeout_s=120)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def viewer(platform: LocalPlatform) -> Caller:
    return Caller(platform, TokenMint(platform.data_dir).headers())


def total(viewer: Caller) -> int:
    return int(viewer("GET", "/browse", params={"limit": 1}).json()["total"])


def test_the_first_run_seeds_the_demo_catalog_once(platform: LocalPlatform, viewer: Caller) -> None:
    wait_for(lambda: (platform.data_dir / ".seeded").exists(), timeout_s=60)
    demo = demo_titles()
    assert len(demo) >= 60 and total(viewer) == len(demo)
    found = wait_for(
        lambda: viewer("GET", "/search", params={"q": "strangr thngs"}).json()["hits"][:1] != []
    )
    assert found < 15
    hit = viewer("GET", "/search", params={"q": "strangr thngs"}).json()["hits"][0]
    assert hit["title"] == "Stranger Things"
    series = viewer("GET", f"/titles/{hit['id']}").json()
    assert series["kind"] == "series" and len(series["seasons"]) >= 2
    assert all(e["id"] and e["title"] for s in series["seasons"] for e in s["episodes"])
    genres = viewer("GET", "/genres").json()["genres"]
    assert len(genres) >= 10
    poster = viewer("GET", f"/artwork/{hit['id']}/poster")
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"


def test_seeding_the_demo_again_replaces_rather_than_duplicates(
    platform: LocalPlatform, viewer: Caller
) -> None:
    before = total(viewer)
    result = platform.cli("seed", "--demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert total(viewer) == before == len(demo_titles())


def test_seed_needs_something_to_seed(platform: LocalPlatform, tmp_path: Path) -> None:
    assert platform.cli("seed").returncode != 0
    assert platform.cli("seed", "--movielens", str(tmp_path / "absent")).returncode != 0
    assert platform.cli("seed", "--movielens", str(tmp_path)).returncode != 0  # no movies.csv


@pytest.mark.skipif(not (MOVIELENS / "movies.csv").exists(), reason="MovieLens is not here")
def test_movielens_import_fills_the_catalog_and_keeps_ratings(
    platform: LocalPlatform, viewer: Caller
) -> None:
    before = total(viewer)
    result = platform.cli("seed", "--movielens", str(MOVIELENS), timeout_s=900)
    assert result.returncode == 0, result.stdout + result.stderr
    with (MOVIELENS / "movies.csv").open(newline="", encoding="utf-8") as rows:
        movies = sum(1 for _ in csv.DictReader(rows))
    assert total(viewer) == before + movies
    toy = viewer("GET", "/titles/ml-1").json()
    assert (toy["title"], toy["year"]) == ("Toy Story", 1995) and "Animation" in toy["genres"]
    assert toy["popularity"] > 0
    wait_for(
        lambda: (
            "ml-1"
            in [h["id"] for h in viewer("GET", "/search", params={"q": "toy stor"}).json()["hits"]]
        ),
        timeout_s=120,
    )
    interactions = platform.data_dir / "recommender" / "interactions.csv"
    with interactions.open(newline="") as rows:
        reader = csv.reader(rows)
        assert next(reader) == ["user", "item", "rating", "timestamp"]
        first = next(reader)
    assert first[1].startswith("ml-") and float(first[2]) > 0
    with (MOVIELENS / "ratings.csv").open() as ratings, interactions.open() as kept:
        assert sum(1 for _ in ratings) == sum(1 for _ in kept)
