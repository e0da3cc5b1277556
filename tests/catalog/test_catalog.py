"""The catalog through the gateway on both backends: admin CRUD with its events, series,
browse, genres, batch hydration, artwork, asset links from the encoder's event, bad input."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from cinemesh.contracts.media import AssetReady, MarkersDetected, Rendition
from cinemesh.platform.events import Event, EventBus
from tests.catalog.api import Caller, member_of, wait_for
from tests.support.backends import Backend
from tests.support.outbox import published_events
from tests.support.platform import LocalPlatform
from tests.support.tokens import TokenMint


def search_total(caller: Caller, q: str) -> int:
    return int(caller("GET", "/search", params={"q": q}).json()["total"])


def test_admin_creates_updates_and_deletes_a_title_and_says_so_in_events(
    platform: LocalPlatform, boss: Caller, module_backend: Backend
) -> None:
    title = boss.make_title(title="Night Drive", genres=["Thriller"], cast=["Ada Lane"])
    assert set(title) >= {"id", "title", "poster_url", "seasons", "available"}
    got = boss("GET", f"/titles/{title['id']}").json()
    assert (got["title"], got["cast"], got["available"]) == ("Night Drive", ["Ada Lane"], True)
    wait_for(lambda: search_total(boss, "night drive") == 1)

    patched = boss(
        "PATCH", f"/admin/titles/{title['id']}", json={"year": 2003, "genres": ["Crime"]}
    )
    assert patched.status_code == 200 and patched.json()["year"] == 2003
    crime = boss("GET", "/browse", params={"genre": "crime"}).json()["items"]
    assert title["id"] in [t["id"] for t in crime]

    assert boss("DELETE", f"/admin/titles/{title['id']}").status_code == 204
    assert boss("GET", f"/titles/{title['id']}").status_code == 404
    assert boss("DELETE", f"/admin/titles/{title['id']}").status_code == 404
    wait_for(lambda: search_total(boss, "night drive") == 0)
    kinds = published_events(
        module_backend,
        platform.data_dir,
        "catalog",
        want="catalog.title.deleted",
        mentioning=title["id"],
    )
    assert kinds.count("catalog.title.upserted") == 2 and "catalog.title.deleted" in kinds


def test_only_admins_administer(platform: LocalPlatform, boss: Caller, mint: TokenMint) -> None:
    member = Caller(platform, mint.headers())
    body = {"title": "X", "kind": "movie"}
    assert member("POST", "/admin/titles", json=body).status_code == 403
    assert Caller(platform, {})("POST", "/admin/titles", json=body).status_code == 401
    title = boss.make_title()
    assert member("PATCH", f"/admin/titles/{title['id']}", json={"year": 1999}).status_code == 403
    assert member("DELETE", f"/admin/titles/{title['id']}").status_code == 403
    assert member("GET", f"/titles/{title['id']}").json()["year"] == 2001


def test_series_have_seasons_and_episodes(boss: Caller) -> None:
    series = boss.make_title(title="Harbour Lights", kind="series")
    for season, number in [(1, 2), (1, 1), (2, 1)]:
        made = boss(
            "POST",
            f"/admin/titles/{series['id']}/episodes",
            json={
                "season": season,
                "number": number,
                "name": f"S{season}E{number}",
                "runtime_min": 42,
            },
        )
        assert made.status_code == 201, made.text
    again = {"season": 1, "number": 1, "name": "again"}
    assert boss("POST", f"/admin/titles/{series['id']}/episodes", json=again).status_code == 409
    movie = boss.make_title()
    assert boss("POST", f"/admin/titles/{movie['id']}/episodes", json=again).status_code == 409
    seasons = boss("GET", f"/titles/{series['id']}").json()["seasons"]
    assert [(s["number"], [e["number"] for e in s["episodes"]]) for s in seasons] == [
        (1, [1, 2]),
        (2, [1]),
    ]
    first = seasons[0]["episodes"][0]
    assert (first["title"], first["runtime_min"], first["playable"]) == ("S1E1", 42, False)
    assert first["id"]


def test_browse_pages_a_genre_by_popularity(boss: Caller) -> None:
    genre = f"Genre{uuid.uuid4().hex[:6]}"
    for n, popularity in enumerate([5.0, 50.0, 20.0, 90.0, 1.0]):
        boss.make_title(title=f"Ranked {n}", genres=[genre], popularity=popularity)
    first = boss("GET", "/browse", params={"genre": genre, "limit": 2}).json()
    second = boss("GET", "/browse", params={"genre": genre, "limit": 2, "offset": 2}).json()
    assert first["total"] == 5
    names = [t["title"] for t in first["items"] + second["items"]]
    assert names == ["Ranked 3", "Ranked 1", "Ranked 2", "Ranked 0"]
    genres = {g["name"]: g["count"] for g in boss("GET", "/genres").json()["genres"]}
    assert genres[genre] == 5


def test_browse_respects_a_kids_profile(
    platform: LocalPlatform, boss: Caller, mint: TokenMint
) -> None:
    genre = f"Noir{uuid.uuid4().hex[:6]}"
    adult = boss.make_title(title="Grim Hours", genres=[genre], maturity_rating="R")
    family = boss.make_title(title="Sunny Farm", genres=[genre], maturity_rating="G")
    kid = member_of(platform, mint, kids=True)
    params = {"genre": genre, "profile_id": kid.profile_id}
    ids = [t["id"] for t in kid("GET", "/browse", params=params).json()["items"]]
    assert ids == [family["id"]] and adult["id"] not in ids
    page = kid("GET", f"/titles/{adult['id']}", params={"profile_id": kid.profile_id}).json()
    assert page["allowed_for_profile"] is False
    stranger = member_of(platform, mint)
    assert stranger("GET", "/browse", params=params).status_code == 404


def test_batch_get_hydrates_a_row_of_40_in_one_call(platform: LocalPlatform, boss: Caller) -> None:
    ids = [boss.make_title(title=f"Row {n}")["id"] for n in range(40)]
    asked = [*reversed(ids), "missing-title"]
    response = httpx.post(
        f"{platform.url_of('catalog')}/v1/titles/batch",
        json={"ids": asked},
        headers=platform.headers,
        timeout=30,
    )
    assert [t["id"] for t in response.json()["titles"]] == list(reversed(ids))
    too_many = {"ids": [f"t{n}" for n in range(201)]}
    url = f"{platform.url_of('catalog')}/v1/titles/batch"
    assert httpx.post(url, json=too_many, headers=platform.headers).status_code == 422
    assert httpx.post(url, json={"ids": ids}).status_code in (401, 403)


def test_artwork_is_a_real_cacheable_image_for_anyone(
    platform: LocalPlatform, boss: Caller
) -> None:
    title = boss.make_title(title="Poster Child")
    for path in (title["poster_url"], title["backdrop_url"], f"{title['poster_url']}.jpg"):
        image = httpx.get(f"{platform.gateway}{path}", timeout=30)
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        assert image.content[:3] == b"\xff\xd8\xff" and "public" in image.headers["cache-control"]
    assert httpx.get(f"{platform.gateway}/api/v1/artwork/nope/poster").status_code == 404
    assert httpx.get(f"{platform.gateway}/api/v1/artwork/{title['id']}/icon").status_code == 422


def test_a_ready_asset_makes_its_episode_playable(
    platform: LocalPlatform, boss: Caller, module_backend: Backend
) -> None:
    series = boss.make_title(title="Encoded Tides", kind="series")
    episode = boss(
        "POST",
        f"/admin/titles/{series['id']}/episodes",
        json={"season": 1, "number": 1, "name": "Pilot"},
    ).json()
    ready = AssetReady(
        asset_id=f"asset-{uuid.uuid4().hex[:8]}",
        title_id=series["id"],
        episode_id=episode["id"],
        duration_s=16.0,
        renditions=[
            Rendition(name="360p", width=640, height=360, bandwidth=800_000, codecs="avc1",
                      playlist="360p/index.m3u8")
        ],
    )  # fmt: skip
    asyncio.run(publish(module_backend, Event(type=AssetReady.TYPE, data=ready.model_dump())))

    def linked() -> bool:
        page = boss("GET", f"/titles/{series['id']}").json()
        return bool(page["playable"] and page["seasons"][0]["episodes"][0]["asset"])

    wait_for(linked)
    asset = boss("GET", f"/titles/{series['id']}").json()["seasons"][0]["episodes"][0]["asset"]
    assert (asset["asset_id"], asset["duration_s"]) == (ready.asset_id, 16.0)
    assert asset["renditions"][0]["name"] == "360p"


def add_episodes(boss: Caller, series_id: str, *numbers: tuple[int, int]) -> list[str]:
    ids = []
    for season, number in numbers:
        body = {"season": season, "number": number, "name": f"S{season}E{number}"}
        made = boss("POST", f"/admin/titles/{series_id}/episodes", json=body)
        assert made.status_code == 201, made.text
        ids.append(str(made.json()["id"]))
    return ids


def asset_ready(series_id: str, episode_id: str, *, duration_s: float = 600.0) -> Event:
    ready = AssetReady(
        asset_id=f"asset-{uuid.uuid4().hex[:8]}",
        title_id=series_id,
        episode_id=episode_id,
        duration_s=duration_s,
        renditions=[
            Rendition(name="360p", width=640, height=360, bandwidth=800_000, codecs="avc1",
                      playlist="360p/index.m3u8")
        ],
    )  # fmt: skip
    return Event(type=AssetReady.TYPE, data=ready.model_dump())


def episodes_of(caller: Caller, series_id: str) -> dict[str, dict[str, object]]:
    seasons = caller("GET", f"/titles/{series_id}").json()["seasons"]
    return {e["id"]: e for s in seasons for e in s["episodes"]}


def test_admins_mark_an_episodes_intro_and_credits_and_members_see_them(
    platform: LocalPlatform, boss: Caller, mint: TokenMint
) -> None:
    series = boss.make_title(title="Marked Bay", kind="series")
    [pilot] = add_episodes(boss, series["id"], (1, 1))
    path = f"/admin/titles/{series['id']}/episodes/{pilot}"
    marks = {"intro_start_s": 12, "intro_end_s": 41.5, "credits_start_s": 1260.0}
    marked = boss("PATCH", path, json=marks)
    assert marked.status_code == 200, marked.text
    seen = episodes_of(Caller(platform, mint.headers()), series["id"])[pilot]
    assert (seen["intro_start_s"], seen["intro_end_s"], seen["credits_start_s"]) == (
        12.0,
        41.5,
        1260.0,
    )
    assert boss("PATCH", path, json={"name": "Renamed"}).json()["intro_end_s"] == 41.5
    cleared = boss("PATCH", path, json={"intro_start_s": None, "intro_end_s": None}).json()
    assert (cleared["name"], cleared["intro_start_s"], cleared["credits_start_s"]) == (
        "Renamed",
        None,
        1260.0,
    )
    backwards = boss("PATCH", path, json={"intro_start_s": 50, "intro_end_s": 20})
    assert backwards.status_code == 422 and backwards.json()["error"]["code"] == "INVALID_MARKERS"
    assert boss("PATCH", path, json={"intro_start_s": "12"}).status_code == 422
    member = Caller(platform, mint.headers())
    assert member("PATCH", path, json={"intro_start_s": 1, "intro_end_s": 2}).status_code == 403
    unknown = f"/admin/titles/{series['id']}/episodes/{series['id']}-s09e09"
    assert boss("PATCH", unknown, json={"name": "x"}).status_code == 404


def test_a_movie_carries_its_markers_from_creation_and_patches(boss: Caller) -> None:
    movie = boss.make_title(title="Marked Movie", intro_start_s=0, intro_end_s=30)
    assert (movie["intro_start_s"], movie["intro_end_s"]) == (0.0, 30.0)
    patched = boss("PATCH", f"/admin/titles/{movie['id']}", json={"credits_start_s": 5400})
    assert patched.status_code == 200 and patched.json()["credits_start_s"] == 5400.0
    got = boss("GET", f"/titles/{movie['id']}").json()
    assert (got["intro_end_s"], got["credits_start_s"]) == (30.0, 5400.0)
    inside = boss("PATCH", f"/admin/titles/{movie['id']}", json={"credits_start_s": 10})
    assert inside.status_code == 422


def test_the_next_episode_is_the_next_that_plays_across_seasons(
    boss: Caller, module_backend: Backend
) -> None:
    series = boss.make_title(title="Long Haul", kind="series")
    s1e1, s1e2, s2e1 = add_episodes(boss, series["id"], (2, 1), (1, 2), (1, 1))[::-1]
    before = episodes_of(boss, series["id"])
    assert [before[e]["next_episode_id"] for e in (s1e1, s1e2, s2e1)] == [None, None, None]
    for episode_id in (s1e1, s2e1):
        asyncio.run(publish(module_backend, asset_ready(series["id"], episode_id)))
    wait_for(lambda: episodes_of(boss, series["id"])[s2e1]["playable"] is True)
    wait_for(lambda: episodes_of(boss, series["id"])[s1e1]["playable"] is True)
    after = episodes_of(boss, series["id"])
    assert after[s1e1]["next_episode_id"] == s2e1  # S1E2 has no video yet
    assert after[s2e1]["next_episode_id"] is None


def detected(series_id: str, episode_id: str, **markers: float) -> Event:
    found = MarkersDetected(title_id=series_id, episode_id=episode_id, asset_id="a", **markers)
    return Event(type=MarkersDetected.TYPE, data=found.model_dump(mode="json"))


def markers_seen(episode: dict[str, object]) -> tuple[object, ...]:
    names = ("intro_start_s", "intro_end_s", "credits_start_s", "markers_source")
    return tuple(episode[name] for name in names)


def test_detected_markers_mark_episodes_but_never_replace_an_admins(
    boss: Caller, module_backend: Backend
) -> None:
    series = boss.make_title(title="Heard Twice", kind="series")
    pilot, second, third = add_episodes(boss, series["id"], (1, 1), (1, 2), (1, 3))
    path = f"/admin/titles/{series['id']}/episodes"
    assert boss(
        "PATCH", f"{path}/{second}", json={"intro_end_s": 30, "intro_start_s": 2}
    ).is_success
    events = [
        detected(series["id"], third, intro_start_s=40, intro_end_s=55, credits_start_s=20),
        detected(series["id"], second, intro_start_s=10.5, intro_end_s=25.5),
        detected(series["id"], pilot, intro_start_s=10.5, intro_end_s=25.5, credits_start_s=500),
    ]
    for event in events:
        asyncio.run(publish(module_backend, event))
    wait_for(lambda: episodes_of(boss, series["id"])[pilot]["markers_source"] == "detected")
    seen = episodes_of(boss, series["id"])
    assert markers_seen(seen[pilot]) == (10.5, 25.5, 500.0, "detected")
    assert markers_seen(seen[second]) == (2.0, 30.0, None, "admin")
    assert markers_seen(seen[third]) == (None, None, None, None), "credits inside the intro"

    # an admin's correction of detected markers stays through the next detection
    assert boss("PATCH", f"{path}/{pilot}", json={"credits_start_s": 480}).is_success
    asyncio.run(
        publish(module_backend, detected(series["id"], pilot, intro_start_s=1, intro_end_s=9))
    )
    asyncio.run(
        publish(module_backend, detected(series["id"], third, intro_start_s=3, intro_end_s=9))
    )
    wait_for(lambda: episodes_of(boss, series["id"])[third]["markers_source"] == "detected")
    assert markers_seen(episodes_of(boss, series["id"])[pilot]) == (10.5, 25.5, 480.0, "admin")


async def publish(backend: Backend, event: Event) -> None:
    bus = EventBus(
        backend.nats_url, service="encoder", namespace=backend.env["CINEMESH_BUS_NAMESPACE"]
    )
    await bus.connect()
    try:
        await bus.publish(event)
    finally:
        await bus.close()


@pytest.mark.parametrize(
    "body",
    [
        {"title": "", "kind": "movie"},
        {"title": "x", "kind": "opera"},
        {"title": "x", "kind": "movie", "year": 99999},
        {"title": "x" * 301, "kind": "movie"},
        {"title": "x", "kind": "movie", "maturity_rating": "XXX"},
        {"title": "bad\x00name", "kind": "movie"},
        {"title": "x", "kind": "movie", "genres": ["g"] * 11},
        {"title": "x", "kind": "movie", "popularity": -1},
        {"title": "x", "kind": "movie", "synopsis": "s" * 10_000},
    ],
)
def test_bad_titles_are_422(boss: Caller, body: dict[str, object]) -> None:
    assert boss("POST", "/admin/titles", json=body).status_code == 422


@pytest.mark.parametrize(
    "params",
    [{"limit": 100000}, {"limit": 0}, {"offset": -1}, {"sort": "random"}, {"genre": "x" * 500}],
)
def test_absurd_browse_parameters_are_422(boss: Caller, params: dict[str, object]) -> None:
    assert boss("GET", "/browse", params=params).status_code == 422


@pytest.mark.parametrize("title_id", ["a%00b", "..%2F..%2Fetc", "x" * 100, "%E2%98%83", "a b"])
def test_hostile_title_ids_are_refused_cleanly(boss: Caller, title_id: str) -> None:
    assert boss("GET", f"/titles/{title_id}").status_code in (404, 422)
    assert boss("PATCH", f"/admin/titles/{title_id}", json={}).status_code in (404, 422)


def test_control_characters_in_a_genre_are_422_with_the_field_named(boss: Caller) -> None:
    refused = boss("GET", "/browse", params={"genre": "\x01\x02"})
    assert refused.status_code == 422
    assert "genre" in refused.text
