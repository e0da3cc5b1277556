"""Search through the gateway on both backends, two instances: typo tolerance, prefix, ranking,
filters, facets, highlights, both instances consistent within 2 s, a late instance catching up
from the stream, bad input, and search down affecting nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.catalog.api import Caller, admin_of, member_of, start_platform, wait_for
from tests.support.backends import Backend
from tests.support.platform import LocalPlatform
from tests.support.tokens import TokenMint

SERVICES = ["registry", "profiles", "catalog", "search", "gateway"]
TITLES = [
    ("Stranger Things", "series", ["Sci-Fi", "Horror"], 2016, "PG-13", 95.0, ["Millie Brown"]),
    ("Strange Harbour", "movie", ["Drama"], 1998, "PG", 10.0, []),
    ("The Crown Affair", "series", ["Drama"], 2016, "PG-13", 50.0, []),
    ("Midnight Gore", "movie", ["Horror"], 1984, "R", 30.0, ["Ada Strangelove"]),
    ("Little Sprouts", "movie", ["Family"], 2020, "G", 40.0, []),
]


@pytest.fixture(scope="module")
def running(
    module_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalPlatform, TokenMint]]:
    data_dir = tmp_path_factory.mktemp(f"search-{module_backend.name}")
    platform, mint = start_platform(
        data_dir, services=SERVICES, env=module_backend.env, scale={"search": 2}
    )
    yield platform, mint
    platform.stop()


@pytest.fixture(scope="module")
def platform(running: tuple[LocalPlatform, TokenMint]) -> LocalPlatform:
    return running[0]


@pytest.fixture(scope="module")
def mint(running: tuple[LocalPlatform, TokenMint]) -> TokenMint:
    return running[1]


@pytest.fixture(scope="module")
def boss(running: tuple[LocalPlatform, TokenMint]) -> Caller:
    platform, mint = running
    boss = admin_of(platform, mint)
    for title, kind, genres, year, rating, popularity, cast in TITLES:
        boss.make_title(
            title=title,
            kind=kind,
            genres=genres,
            year=year,
            maturity_rating=rating,
            popularity=popularity,
            cast=cast,
        )
    wait_for(lambda: all(on_instance(platform, i, "")["total"] == len(TITLES) for i in (0, 1)))
    return boss


def on_instance(platform: LocalPlatform, index: int, q: str) -> dict[str, Any]:
    """Ask one search instance directly, past the gateway's load balancing."""
    answer = httpx.get(
        f"{platform.url_of('search', index)}/v1/search",
        params={"q": q},
        headers=platform.headers,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def titles(caller: Caller, **params: object) -> list[str]:
    answer = caller("GET", "/search", params=params)
    assert answer.status_code == 200, answer.text
    return [hit["title"] for hit in answer.json()["hits"]]


def test_typos_still_find_the_title(boss: Caller) -> None:
    assert titles(boss, q="strangr thngs") == ["Stranger Things"]
    assert titles(boss, q="midnigt gore")[:1] == ["Midnight Gore"]
    assert titles(boss, q="crwon afair") == ["The Crown Affair"]
    assert titles(boss, q="zzyzx qqq") == []


def test_prefix_as_you_type_ranks_by_relevance_then_popularity(boss: Caller) -> None:
    assert titles(boss, q="stran") == ["Stranger Things", "Strange Harbour", "Midnight Gore"]
    assert titles(boss, q="s")[:1] == ["Stranger Things"]
    assert titles(boss, q="little spr") == ["Little Sprouts"]
    assert titles(boss, q="strange")[:2] == ["Strange Harbour", "Stranger Things"]


def test_filters_and_facets(boss: Caller) -> None:
    body = boss("GET", "/search", params={"q": "", "genre": "drama", "year": 2016}).json()
    assert [h["title"] for h in body["hits"]] == ["The Crown Affair"]
    assert body["facets"]["genre"] == {"Drama": 1}
    ranged = boss("GET", "/search", params={"year_from": 1980, "year_to": 2000}).json()
    assert {h["title"] for h in ranged["hits"]} == {"Strange Harbour", "Midnight Gore"}
    assert ranged["facets"]["decade"] == {"1980s": 1, "1990s": 1}
    everything = boss("GET", "/search", params={"q": ""}).json()
    assert everything["total"] == len(TITLES)
    assert everything["facets"]["genre"] == {
        "Horror": 2, "Drama": 2, "Family": 1, "Sci-Fi": 1,
    }  # fmt: skip
    assert everything["facets"]["decade"] == {"1980s": 1, "1990s": 1, "2010s": 2, "2020s": 1}
    assert titles(boss, q="", genre="Western") == []
    assert isinstance(everything["took_ms"], float)


def test_highlights_mark_the_matched_words_safely(boss: Caller) -> None:
    hit = boss("GET", "/search", params={"q": "strangr"}).json()["hits"][0]
    assert hit["highlight"]["title"] == "<em>Stranger</em> Things"
    cast_hit = boss("GET", "/search", params={"q": "strangelove"}).json()["hits"][0]
    assert cast_hit["title"] == "Midnight Gore"
    assert cast_hit["highlight"]["cast"] == ["Ada <em>Strangelove</em>"]
    assert cast_hit["poster_url"].endswith("/poster")


def test_a_kids_profile_finds_only_kids_titles(
    platform: LocalPlatform, mint: TokenMint, boss: Caller
) -> None:
    kid = member_of(platform, mint, kids=True)
    found = titles(kid, q="", profile_id=kid.profile_id)
    assert set(found) == {"Little Sprouts", "Strange Harbour"}
    assert titles(kid, q="midnight gore", profile_id=kid.profile_id) == []
    assert titles(kid, q="midnight gore") == ["Midnight Gore"]  # no profile: no limit
    other = member_of(platform, mint)
    assert other("GET", "/search", params={"profile_id": kid.profile_id}).status_code == 404


def test_two_instances_reflect_create_update_delete_within_2s(
    platform: LocalPlatform, boss: Caller
) -> None:
    made = boss.make_title(title="Quicksilver Tide")

    def everywhere(q: str, total: int) -> bool:
        return all(on_instance(platform, i, q)["total"] == total for i in (0, 1))

    assert wait_for(lambda: everywhere("quicksilver", 1)) < 2
    boss("PATCH", f"/admin/titles/{made['id']}", json={"title": "Quicksand Tide"})
    assert wait_for(lambda: everywhere("quicksand", 1) and everywhere("quicksilver", 0)) < 2
    boss("DELETE", f"/admin/titles/{made['id']}")
    assert wait_for(lambda: everywhere("quicksand", 0)) < 2


def test_an_instance_started_later_catches_up_from_the_stream(
    platform: LocalPlatform, boss: Caller
) -> None:
    platform.control("POST", "/scale", json={"service": "search", "count": 3})
    try:
        platform.wait_healthy(service="search", count=3, timeout_s=60)
        late = on_instance(platform, 2, "strangr thngs")
        assert [h["title"] for h in late["hits"]] == ["Stranger Things"]
        assert on_instance(platform, 2, "")["total"] == on_instance(platform, 0, "")["total"]
        assert on_instance(platform, 2, "quicksand")["total"] == 0  # deleted before it started
    finally:
        platform.control("POST", "/scale", json={"service": "search", "count": 2})


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 10_000},
        {"limit": 1_000_000},
        {"limit": 0},
        {"year_from": "abc"},
        {"year": "2016; DROP"},
        {"year_from": 2010, "year_to": 2000},
        {"offset": -5},
        {"genre": "g" * 500},
        {"profile_id": "../../etc"},
    ],
)
def test_bad_input_is_422(boss: Caller, params: dict[str, object]) -> None:
    answer = boss("GET", "/search", params=params)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize(
    "q",
    ["\x00\x01\x02", "'; DROP TABLE titles; --", "<script>alert(1)</script>", "🎬🎬", "%%%", " "],
)
def test_strange_queries_answer_cleanly(boss: Caller, q: str) -> None:
    answer = boss("GET", "/search", params={"q": q})
    assert answer.status_code == 200
    assert "<script>" not in answer.text


def test_control_characters_in_a_genre_are_422_with_the_field_named(boss: Caller) -> None:
    refused = boss("GET", "/search", params={"q": "x", "genre": "\x07"})
    assert refused.status_code == 422
    assert "genre" in refused.text


def test_search_down_is_503_and_nothing_else_is_affected(
    platform: LocalPlatform, boss: Caller
) -> None:
    platform.control("POST", "/kill", json={"service": "search", "hold_s": 60})
    try:
        wait_for(lambda: boss("GET", "/search", params={"q": "x"}).status_code == 503)
        down = boss("GET", "/search", params={"q": "stranger"})
        assert down.json()["error"]["code"] == "SEARCH_UNAVAILABLE"
        assert boss("GET", "/browse").status_code == 200
        assert boss("GET", "/genres").status_code == 200
    finally:
        platform.control("POST", "/revive", json={"service": "search"})
    platform.wait_healthy(service="search", count=2, timeout_s=60)
    wait_for(lambda: titles(boss, q="strangr thngs") == ["Stranger Things"])
