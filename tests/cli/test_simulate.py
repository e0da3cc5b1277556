"""`cinemesh simulate`'s members, without a platform: how they choose, where their tastes come
from, and what the command says when there is no gateway to talk to."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

from cinemesh.demo.simulation import pick
from cinemesh.demo.tastes import Taste, TasteSource
from cinemesh.runner.layout import free_port

TASTE = Taste({"Horror": 0.7, "Comedy": 0.3}, "test")


def row(*genres: str, prefix: str = "t") -> dict[str, object]:
    items = [{"id": f"{prefix}{n}", "genres": [g]} for n, g in enumerate(genres)]
    return {"id": "top-picks", "items": items}


def picks(rows: list[dict[str, object]], times: int = 4000) -> Counter[str]:
    rng = random.Random(3)
    chosen = (pick(rows, TASTE, rng) for _ in range(times))
    return Counter(c.title_id for c in chosen if c is not None)


def test_members_start_titles_of_their_taste_far_more_often_than_others() -> None:
    counts = picks([row("Drama", "Horror", "Drama", "Comedy")])
    assert counts["t1"] > 5 * counts["t0"], counts
    assert counts["t1"] > counts["t3"] > counts["t2"], counts


def test_members_look_less_at_titles_further_right_and_further_down() -> None:
    across = picks([row(*["Horror"] * 8)])
    assert across["t0"] > across["t3"] > across["t7"], across
    lower = picks([row("Drama", prefix="d"), row("Horror", prefix="h")])
    upper = picks([row("Horror", prefix="h"), row("Drama", prefix="d")])
    assert upper["h0"] > lower["h0"], (upper, lower)


def test_members_skip_what_they_finished_and_what_cannot_play() -> None:
    rows = [{"id": "r", "items": [{"id": "a", "genres": ["Horror"], "playable": False},
                                  {"id": "b", "genres": ["Horror"]}, {"id": "c", "genres": ["Horror"]}]}]  # fmt: skip
    rng = random.Random(1)
    chosen = {c.title_id for _ in range(500) if (c := pick(rows, TASTE, rng, skip={"b"}))}
    assert chosen == {"c"}


def test_tastes_come_from_movielens_users_limited_to_the_catalog_and_repeat_with_the_seed(
    tmp_path: Path,
) -> None:
    (tmp_path / "movies.csv").write_text(
        "movieId,title,genres\n1,A (1990),Horror|Thriller\n2,B (1991),Comedy\n3,C (1992),Children\n"
    )
    ratings = ["userId,movieId,rating,timestamp"]
    ratings += [f"1,{m},5.0,1" for m in (1, 1, 1, 2, 2)] + [f"2,{m},4.5,1" for m in (3, 3, 2, 2, 2)]
    ratings += ["3,1,1.0,1"] * 6  # disliked everything: says nothing
    (tmp_path / "ratings.csv").write_text("\n".join(ratings) + "\n")
    catalog = {"Horror": 3, "Comedy": 5, "Family": 2}  # no Thriller here; Children is Family
    drawn = [TasteSource(catalog, movielens=tmp_path, seed=5).draw() for _ in range(2)]
    assert drawn[0] == drawn[1]
    source = TasteSource(catalog, movielens=tmp_path, seed=5)
    people = {t.source: dict(t.genres) for t in (source.draw() for _ in range(50))}
    assert people == {
        "movielens user 1": {"Horror": 0.6, "Comedy": 0.4},
        "movielens user 2": {"Comedy": 0.6, "Family": 0.4},
    }


def test_without_movielens_tastes_are_drawn_from_the_catalogs_genres(tmp_path: Path) -> None:
    source = TasteSource({"Drama": 10, "Comedy": 1}, movielens=tmp_path / "absent", seed=2)
    tastes = [source.draw() for _ in range(30)]
    assert source.kind == "the catalog's genres"
    assert all(set(t.genres) <= {"Drama", "Comedy"} and t.genres for t in tastes)
    assert all(abs(sum(t.genres.values()) - 1) < 0.01 for t in tastes)


def test_simulate_says_clearly_when_the_gateway_is_unreachable(tmp_path: Path) -> None:
    gateway = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "cinemesh", "simulate", "--members", "3", "--minutes", "0.1",
         "--gateway", gateway, "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    said = " ".join((done.stdout + done.stderr).split())
    assert f"the gateway at {gateway} is unreachable" in said, said
    assert "Traceback" not in said
