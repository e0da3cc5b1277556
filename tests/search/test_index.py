"""The search index on its own: matching, stale events, growth past its first capacity,
many genres, compaction, and facets computed both ways agreeing."""

from __future__ import annotations

import random

import pytest

from cinemesh.contracts.maturity import level
from cinemesh.services.search.index import Doc, Query, TitleIndex
from cinemesh.services.search.text import edit_distance, highlight


def doc(doc_id: str, title: str, **fields: object) -> Doc:
    values: dict[str, object] = {
        "kind": "movie",
        "genres": ["Drama"],
        "year": 2000,
        "maturity_rating": "PG",
        "popularity": 1.0,
        **fields,
    }
    values["maturity_level"] = level(str(values["maturity_rating"]))
    return Doc(id=doc_id, title=title, **values)  # type: ignore[arg-type]


def found(index: TitleIndex, text: str = "", **filters: object) -> list[str]:
    return [h["id"] for h in index.search(Query(text=text, **filters))["hits"]]  # type: ignore[arg-type]


def test_typos_prefixes_and_accents_match() -> None:
    index = TitleIndex()
    index.upsert(doc("st", "Stranger Things", popularity=9))
    index.upsert(doc("am", "Amélie"))
    assert found(index, "strangr thngs") == ["st"]
    assert found(index, "STRANGER th") == ["st"]
    assert found(index, "amelie") == ["am"] and found(index, "amé") == ["am"]
    assert found(index, "things stranger") == ["st"]  # word order does not matter
    assert found(index, "xyz") == [] and found(index, "stranger xyz") == []
    assert found(index, "xyz things") == []  # every word must match


def test_a_stale_event_changes_nothing() -> None:
    index = TitleIndex()
    assert index.upsert(doc("a", "New Name"), revision=20)
    assert not index.upsert(doc("a", "Old Name"), revision=10)
    assert found(index, "old") == [] and found(index, "new") == ["a"]
    assert not index.remove("a", revision=15)
    assert index.remove("a", revision=30)
    assert not index.upsert(doc("a", "Resurrected"), revision=25)  # older than the delete
    assert len(index) == 0 and found(index) == []


def test_many_titles_and_genres_grow_the_columns() -> None:
    index = TitleIndex()
    genres = [f"Genre{n}" for n in range(40)]
    for n in range(3000):
        index.upsert(doc(f"t{n}", f"Title {n}", genres=[genres[n % 40]], year=1950 + n % 70))
    result = index.search(Query(genre="genre39", limit=5))
    assert result["total"] == 75 and result["facets"]["genre"] == {"Genre39": 75}
    assert index.search(Query())["facets"]["genre"]["Genre0"] == 75
    assert len(index.search(Query())["facets"]["genre"]) == 30  # the top 30 only


def test_compaction_keeps_every_live_title() -> None:
    index = TitleIndex()
    for n in range(100):
        index.upsert(doc(f"keep{n}", f"Keeper {n}"))
    for n in range(3000):
        index.upsert(doc(f"gone{n}", f"Fleeting {n}"))
        index.remove(f"gone{n}")
    assert len(index.docs) < 3000  # compacted
    assert index.search(Query(text="keeper"))["total"] == 100
    assert index.search(Query(text="fleeting"))["total"] == 0


def test_genre_counts_agree_for_few_and_many_matches() -> None:
    rng = random.Random(3)
    index = TitleIndex()
    names = ["Drama", "Comedy", "Horror", "Family"]
    fruits = ["apple", "zebra", "mango", "kiwi", "lemon", "grape", "peach"]
    for n in range(2000):
        index.upsert(doc(f"t{n}", f"{fruits[n % 7]} Thing", genres=rng.sample(names, 2)))
    few = index.search(Query(text="kiwi thing"))  # 1 in 7: the gather path
    many = index.search(Query(text="thing"))  # everything: the matrix product path
    expected_many = {g: sum(g in d.genres for d in index.docs if d) for g in names}
    assert many["facets"]["genre"] == expected_many
    matched = [d for d in index.docs if d and d.title.startswith("kiwi")]
    assert few["facets"]["genre"] == {
        g: sum(g in d.genres for d in matched) for g in names if any(g in d.genres for d in matched)
    }


def test_ranking_is_relevance_then_popularity() -> None:
    index = TitleIndex()
    index.upsert(doc("exact", "Harbor", popularity=1))
    index.upsert(doc("prefix", "Harborside", popularity=100))
    index.upsert(doc("cast", "Other", cast=["Jo Harbor"], popularity=1000))
    assert found(index, "harbor") == ["exact", "prefix", "cast"]
    assert found(index, "harb") == ["prefix", "exact", "cast"]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("things", "thngs", 1), ("crown", "crwon", 1), ("abc", "abc", 0), ("kitten", "sitting", 3)],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b, 3) == distance


def test_highlight_escapes_everything_else() -> None:
    assert highlight("<b>Tom & Jerry</b>", {"tom"}) == "&lt;b&gt;<em>Tom</em> &amp; Jerry&lt;/b&gt;"


def test_paging_through_equal_keys_shows_every_title_once() -> None:
    index = TitleIndex()
    for n in range(250):
        index.upsert(doc(f"t{n}", f"Tied {n % 7}", popularity=float(n % 3)))
    seen: list[str] = []
    for offset in range(0, 250, 100):
        seen += found(index, "tied", limit=100, offset=offset)
    assert len(seen) == 250 and len(set(seen)) == 250
