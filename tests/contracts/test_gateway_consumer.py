"""Consumer side of the gateway's contracts with the services it calls (Pact).

Each test drives the gateway's own code (route handlers, the home page's parts, the resilient
client) against a Pact mock server that answers as the provider promises, and records what the
gateway asked and which fields of the answer it depends on, with matchers (types and patterns,
not sample values). The pact written is held against the one committed in
`tests/contracts/pacts/`: those files are the contract, read by each provider's verification
(test_provider_verification.py) and by review, so a change to what the gateway needs shows up
as a diff. After changing an interaction: `CINEMESH_UPDATE_PACTS=1 pytest tests/contracts`,
review the diff, commit it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request
from pact import Pact, generate, match
from pact.match.matcher import AbstractMatcher, GenericMatcher

from cinemesh.contracts.maturity import RATINGS
from cinemesh.contracts.telemetry import PlayBeacon
from cinemesh.services.gateway import experiments as gateway_experiments
from cinemesh.services.gateway.core import Gateway
from cinemesh.services.gateway.home import HomePage, HomeSources
from cinemesh.services.gateway.routes import admin_titles as admin_routes
from cinemesh.services.gateway.routes import auth as auth_routes
from cinemesh.services.gateway.routes import catalog as catalog_routes
from cinemesh.services.gateway.routes import history as history_routes
from cinemesh.services.gateway.routes import media as media_routes
from cinemesh.services.gateway.routes import playback as playback_routes
from cinemesh.services.gateway.routes import profiles as profile_routes
from cinemesh.services.gateway.routes import search as search_routes
from cinemesh.services.gateway.routes import telemetry as telemetry_routes
from tests.contracts.conftest import ADMIN, MEMBER, gateway_against, new_pact, settle_pact

TITLE_ID = "t-contract-1"
GENRE = "Drama"
PROFILE_ID = "p-contract-1"  # history and the recommender take any profile id as given
MATURITY = "PG-13"
RATING = "^(" + "|".join(re.escape(rating) for rating in RATINGS) + ")$"  # the maturity scale
PLAYABLE_ID = "t-contract-play"
PLAYING_SESSION = "c0" * 16
STOPPING_SESSION = "c1" * 16
MEMBER_EMAIL = "member@example.com"
PASSWORD = "a contract is a promise 42"
ISO_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"
TITLE_IS_THERE = f"a title {TITLE_ID} in genre {GENRE} exists"
GONE_ID = "t-contract-gone"
FINISHED_ID = "t-contract-finished"
SERIES_ID = "t-contract-series"
SERIES_IS_THERE = f"a series {SERIES_ID} with one episode exists"
NEW_TITLE = admin_routes.TitleCreate(
    title="A New Contract", kind="movie", genres=[GENRE], year=2021, synopsis="Signed today."
)
NEW_EPISODE = admin_routes.EpisodeCreate(season=1, number=2, name="The Second Promise")
NEW_PROFILE = profile_routes.ProfileCreate(name="Kid", kids=True)
REFRESH_TOKEN = "a-refresh-token-held"  # the provider's own when verified (its state's)
HOLDS_A_REFRESH_TOKEN = "the member holds a refresh token"
BEACON_SESSION = "c2" * 16
TELEMETRY_KNOWS_THE_SESSION = f"telemetry knows session {BEACON_SESSION} of the member"
BEACON = PlayBeacon(
    session_id=BEACON_SESSION,
    seq=0,
    edge="http://127.0.0.1:9",
    ttff_ms=420,
    played_ms=9000,
    bitrate_kbps=2400.0,
    height=720,
)
EXPERIMENT_ID = "exp-contract"  # the provider's own when verified (its state's)
AN_EXPERIMENT_RUNS = "an experiment with a treated cell runs on every profile"
JOB_ID = "job-contract"
A_JOB_EXISTS = f"an encode job of {TITLE_ID} exists"
SUBTITLED_ID = "t-contract-subtitled"
SUBTITLES = "WEBVTT\n\n00:00.000 --> 00:00.900\nA contract.\n"
BOUNDARY = "cinemesh-contract-form"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def path_of_state(example: str, template: str) -> AbstractMatcher[str]:
    """A path holding an id the provider makes in its state (`${profile_id}`, `${job_id}`...
    in `template`): the example here, the provider's own id when verified."""
    shape = "^" + re.sub(r"\\\$\\\{\w+\\\}", "[A-Za-z0-9_-]+", re.escape(template)) + "$"
    return GenericMatcher(
        "regex", example, generator=generate.provider_state(template), regex=shape
    )


def of_state(example: str, name: str) -> AbstractMatcher[str]:
    """A body value the provider makes in its state (`name` in what the state answers)."""
    return GenericMatcher("type", example, generator=generate.provider_state(f"${{{name}}}"))


def title_summary() -> dict[str, object]:
    """The fields of a title the home rows, browse and search show (home.py's TITLE_FIELDS)."""
    return {
        "id": match.str(TITLE_ID),
        "title": match.str("A Contract"),
        "kind": match.regex("movie", regex=r"^(movie|series)$"),
        "genres": match.each_like(match.str(GENRE)),
        "maturity_rating": match.regex(MATURITY, regex=RATING),
        "poster_url": match.str(f"/api/v1/artwork/{TITLE_ID}/poster"),
        "backdrop_url": match.str(f"/api/v1/artwork/{TITLE_ID}/backdrop"),
        "playable": match.bool(False),
    }


async def test_gateway_pact_with_catalog(tmp_path: Path) -> None:
    pact = new_pact("catalog")
    (
        pact.upon_receiving("a title's page")
        .given(TITLE_IS_THERE)
        .with_request("GET", f"/v1/titles/{TITLE_ID}")
        .will_respond_with(200)
        .with_body(
            {
                **title_summary(),
                "year": match.int(2020),
                "synopsis": match.str("What a contract promises."),
                "seasons": match.like([]),
            }
        )
    )
    browse_page = {"items": match.each_like(title_summary()), "total": match.int(1)}
    (
        pact.upon_receiving("the popular titles up to a maturity")
        .given(TITLE_IS_THERE)
        .with_request("GET", "/v1/titles")
        .with_query_parameters({"sort": "popularity", "limit": "40", "max_maturity": MATURITY})
        .will_respond_with(200)
        .with_body(browse_page, content_type="application/json")
    )
    (
        pact.upon_receiving("the genres")
        .given(TITLE_IS_THERE)
        .with_request("GET", "/v1/genres")
        .will_respond_with(200)
        .with_body({"genres": match.each_like({"name": match.str(GENRE), "count": match.int(1)})})
    )
    (
        pact.upon_receiving("a genre's popular titles up to a maturity")
        .given(TITLE_IS_THERE)
        .with_request("GET", "/v1/titles")
        .with_query_parameters(
            {"genre": GENRE, "sort": "popularity", "limit": "20", "max_maturity": MATURITY}
        )
        .will_respond_with(200)
        .with_body(browse_page, content_type="application/json")
    )
    (
        pact.upon_receiving("a batch of titles for the home rows")
        .given(TITLE_IS_THERE)
        .with_request("POST", "/v1/titles/batch")
        .with_body({"ids": [TITLE_ID]}, content_type="application/json")
        .will_respond_with(200)
        .with_body({"titles": match.each_like(title_summary())})
    )

    (
        pact.upon_receiving("a title's poster")
        .given(TITLE_IS_THERE)
        .with_request("GET", f"/v1/artwork/{TITLE_ID}/poster.jpg")
        .will_respond_with(200)
        .with_header("Content-Type", "image/jpeg")
    )
    (
        pact.upon_receiving("a page of a genre the member browses")
        .given(TITLE_IS_THERE)
        .with_request("GET", "/v1/titles")
        .with_query_parameters({"genre": GENRE, "sort": "popularity", "limit": "40", "offset": "0"})
        .will_respond_with(200)
        .with_body(
            {**browse_page, "limit": match.int(40), "offset": match.int(0)},
            content_type="application/json",
        )
    )
    catalog_admin_interactions(pact)

    async with gateway_against(pact) as gateway:
        title = await catalog_routes.get_title(
            None,  # type: ignore[arg-type]
            gateway,
            MEMBER,
            title_id=TITLE_ID,
            profile_id=None,
        )
        assert title["id"] == TITLE_ID
        home = HomePage(gateway)
        sources = HomeSources()
        await home._browse(None, MATURITY, sources)  # type: ignore[arg-type]
        assert not sources.degraded
        assert sources.popular and sources.genre_rows
        assert sources.genre_rows[0]["genre"] == GENRE
        fetched = await home._fetch_titles(None, [TITLE_ID])  # type: ignore[arg-type]
        assert fetched[TITLE_ID]["maturity_rating"] == MATURITY
        browsed = await catalog_routes.browse(
            None,  # type: ignore[arg-type]
            gateway,
            MEMBER,
            genre=GENRE,
            sort="popularity",
            limit=40,
            offset=0,
            profile_id=None,
        )
        assert browsed.status_code == 200
        await administer_the_catalog(gateway)
        poster = await catalog_routes.artwork_jpg(
            None,  # type: ignore[arg-type]
            gateway,
            title_id=TITLE_ID,
            kind="poster",
        )
        assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    settle_pact(pact, "catalog", tmp_path)


def catalog_admin_interactions(pact: Pact) -> None:
    """What the gateway's admin routes (routes/admin_titles.py) ask of catalog for an admin:
    the answers are relayed, so the pact holds the fields the admin page reads."""
    written = {
        "id": match.str(TITLE_ID),
        "title": match.str("A Contract"),
        "kind": match.regex("movie", regex=r"^(movie|series)$"),
        "genres": match.each_like(match.str(GENRE)),
        "maturity_rating": match.regex(MATURITY, regex=RATING),
        "synopsis": match.str("What a contract promises."),
    }
    (
        pact.upon_receiving("an admin adds a title")
        .with_request("POST", "/v1/titles")
        .with_body(NEW_TITLE.model_dump(), content_type="application/json")
        .will_respond_with(201)
        .with_body(written, content_type="application/json")
    )
    (
        pact.upon_receiving("an admin changes a title")
        .given(TITLE_IS_THERE)
        .with_request("PATCH", f"/v1/titles/{TITLE_ID}")
        .with_body({"synopsis": "What a contract promises."}, content_type="application/json")
        .will_respond_with(200)
        .with_body(written, content_type="application/json")
    )
    (
        pact.upon_receiving("an admin removes a title")
        .given(f"a title {GONE_ID} in genre {GENRE} exists")
        .with_request("DELETE", f"/v1/titles/{GONE_ID}")
        .will_respond_with(204)
    )
    episode = {
        "id": match.str(f"{SERIES_ID}-s01e02"),
        "season": match.int(1),
        "number": match.int(2),
        "name": match.str("The Second Promise"),
        "playable": match.bool(False),
    }
    (
        pact.upon_receiving("an admin adds an episode")
        .given(SERIES_IS_THERE)
        .with_request("POST", f"/v1/titles/{SERIES_ID}/episodes")
        .with_body(NEW_EPISODE.model_dump(), content_type="application/json")
        .will_respond_with(201)
        .with_body(episode, content_type="application/json")
    )
    (
        pact.upon_receiving("an admin changes an episode")
        .given(SERIES_IS_THERE)
        .with_request("PATCH", f"/v1/titles/{SERIES_ID}/episodes/{SERIES_ID}-s01e01")
        .with_body({"name": "The First Promise"}, content_type="application/json")
        .will_respond_with(200)
        .with_body(
            {**episode, "id": match.str(f"{SERIES_ID}-s01e01"), "number": match.int(1)},
            content_type="application/json",
        )
    )


async def administer_the_catalog(gateway: Gateway) -> None:
    created = await admin_routes.create_title(NEW_TITLE, None, gateway, ADMIN)  # type: ignore[arg-type]
    assert created.status_code == 201
    changed = await admin_routes.update_title(
        admin_routes.TitleUpdate(synopsis="What a contract promises."),
        None,  # type: ignore[arg-type]
        gateway,
        ADMIN,
        title_id=TITLE_ID,
    )
    assert changed.status_code == 200
    removed = await admin_routes.delete_title(None, gateway, ADMIN, title_id=GONE_ID)  # type: ignore[arg-type]
    assert removed.status_code == 204
    added = await admin_routes.add_episode(NEW_EPISODE, None, gateway, ADMIN, title_id=SERIES_ID)  # type: ignore[arg-type]
    assert added.status_code == 201
    marked = await admin_routes.update_episode(
        admin_routes.EpisodeUpdate(name="The First Promise"),
        None,  # type: ignore[arg-type]
        gateway,
        ADMIN,
        title_id=SERIES_ID,
        episode_id=f"{SERIES_ID}-s01e01",
    )
    assert marked.status_code == 200


async def test_gateway_pact_with_profiles(tmp_path: Path) -> None:
    pact = new_pact("profiles")
    state = f"a profile of the member with {TITLE_ID} in its list"
    profile_path = "/v1/profiles/p-contract-2"
    (
        pact.upon_receiving("the member's profile")
        .given(state)
        .with_request(
            "GET",
            path_of_state(profile_path, "/v1/profiles/${profile_id}"),
        )
        .will_respond_with(200)
        .with_body(
            {
                "id": match.str("p-contract-2"),
                "kids": match.bool(False),
                "maturity": match.regex(MATURITY, regex=RATING),
            },
            content_type="application/json",
        )
    )
    (
        pact.upon_receiving("the profile's list")
        .given(state)
        .with_request(
            "GET",
            path_of_state(f"{profile_path}/my-list", "/v1/profiles/${profile_id}/my-list"),
        )
        .will_respond_with(200)
        .with_body(
            {
                "items": match.each_like(
                    {
                        "title_id": match.str(TITLE_ID),
                        "added_at": match.regex("2026-01-01T00:00:00Z", regex=ISO_TIME),
                    }
                )
            },
            content_type="application/json",
        )
    )

    profile_write_interactions(pact, state)

    async with gateway_against(pact) as gateway:
        profile = await gateway.require_profile(None, MEMBER, "p-contract-2")  # type: ignore[arg-type]
        assert catalog_routes.profile_maturity(profile) == MATURITY
        sources = HomeSources()
        await HomePage(gateway)._my_list(None, MEMBER, "p-contract-2", sources)  # type: ignore[arg-type]
        assert sources.my_list == [TITLE_ID]
        await change_profiles(gateway)
    settle_pact(pact, "profiles", tmp_path)


def profile_shape() -> dict[str, object]:
    """A profile as the gateway's profile routes answer it (routes/profiles.py ProfileOut)."""
    return {
        "id": match.str("p-contract-2"),
        "account_id": match.str(MEMBER.account_id),
        "name": match.str("Pact"),
        "kids": match.bool(False),
        "maturity": match.regex(MATURITY, regex=RATING),
        "avatar": match.str("red"),
        "language": match.str("en"),
    }


def profile_write_interactions(pact: Pact, state: str) -> None:
    """The member's writes through the gateway's profile routes, relayed as answered, and
    My List as the member pages it there."""
    profile = "/v1/profiles/${profile_id}"
    listed = {"title_id": match.str(TITLE_ID), "in_list": match.bool(True)}
    item = {
        "title_id": match.str(TITLE_ID),
        "added_at": match.regex("2026-01-01T00:00:00Z", regex=ISO_TIME),
    }
    (
        pact.upon_receiving("the profile's list as the member pages it")
        .given(state)
        .with_request(
            "GET", path_of_state("/v1/profiles/p-contract-2/my-list", f"{profile}/my-list")
        )
        .with_query_parameter("limit", "200")
        .will_respond_with(200)
        .with_body({"items": match.each_like(item)}, content_type="application/json")
    )
    (
        pact.upon_receiving("the member's profiles")
        .given(state)
        .with_request("GET", "/v1/profiles")
        .will_respond_with(200)
        .with_body({"items": match.each_like(profile_shape())}, content_type="application/json")
    )
    (
        pact.upon_receiving("a new kids profile")
        .with_request("POST", "/v1/profiles")
        .with_body(NEW_PROFILE.model_dump(exclude_none=True), content_type="application/json")
        .will_respond_with(201)
        .with_body({**profile_shape(), "kids": match.bool(True)}, content_type="application/json")
    )
    (
        pact.upon_receiving("a profile's new avatar")
        .given(state)
        .with_request("PATCH", path_of_state("/v1/profiles/p-contract-2", profile))
        .with_body({"avatar": "blue"}, content_type="application/json")
        .will_respond_with(200)
        .with_body(
            {**profile_shape(), "avatar": match.str("blue")}, content_type="application/json"
        )
    )
    (
        pact.upon_receiving("a profile's removal")
        .given("a spare profile of the member")
        .with_request("DELETE", path_of_state("/v1/profiles/p-contract-3", profile))
        .will_respond_with(204)
    )
    in_list = f"{profile}/my-list/{TITLE_ID}"
    (
        pact.upon_receiving("a title added to the list")
        .given(state)
        .with_request(
            "PUT", path_of_state(f"/v1/profiles/p-contract-2/my-list/{TITLE_ID}", in_list)
        )
        .will_respond_with(200)
        .with_body(listed, content_type="application/json")
    )
    (
        pact.upon_receiving("a title taken off the list")
        .given(state)
        .with_request(
            "DELETE", path_of_state(f"/v1/profiles/p-contract-2/my-list/{TITLE_ID}", in_list)
        )
        .will_respond_with(200)
        .with_body({**listed, "in_list": match.bool(False)}, content_type="application/json")
    )
    rating = f"{profile}/ratings/{TITLE_ID}"
    (
        pact.upon_receiving("a thumbs up")
        .given(state)
        .with_request("PUT", path_of_state(f"/v1/profiles/p-contract-2/ratings/{TITLE_ID}", rating))
        .with_body({"rating": "up"}, content_type="application/json")
        .will_respond_with(200)
        .with_body(
            {
                "title_id": match.str(TITLE_ID),
                "rating": match.regex("up", regex=r"^(up|down|none)$"),
            },
            content_type="application/json",
        )
    )


async def change_profiles(gateway: Gateway) -> None:
    mine = "p-contract-2"
    paged = await profile_routes.my_list(None, gateway, MEMBER, profile_id=mine, limit=200)  # type: ignore[arg-type]
    assert paged.status_code == 200
    listed = await profile_routes.list_profiles(None, gateway, MEMBER)  # type: ignore[arg-type]
    assert listed.status_code == 200
    made = await profile_routes.create_profile(NEW_PROFILE, None, gateway, MEMBER)  # type: ignore[arg-type]
    assert made.status_code == 201
    changed = await profile_routes.update_profile(
        profile_routes.ProfileUpdate(avatar="blue"),
        None,  # type: ignore[arg-type]
        gateway,
        MEMBER,
        profile_id=mine,
    )
    assert changed.status_code == 200
    removed = await profile_routes.delete_profile(None, gateway, MEMBER, profile_id="p-contract-3")  # type: ignore[arg-type]
    assert removed.status_code == 204
    added = await profile_routes.add_to_list(
        None,  # type: ignore[arg-type]
        gateway,
        MEMBER,
        profile_id=mine,
        title_id=TITLE_ID,
    )
    assert added.status_code == 200
    taken_off = await profile_routes.remove_from_list(
        None,  # type: ignore[arg-type]
        gateway,
        MEMBER,
        profile_id=mine,
        title_id=TITLE_ID,
    )
    assert taken_off.status_code == 200
    rated = await profile_routes.rate(
        profile_routes.RatingBody(rating="up"),
        None,  # type: ignore[arg-type]
        gateway,
        MEMBER,
        profile_id=mine,
        title_id=TITLE_ID,
    )
    assert rated.status_code == 200


async def test_gateway_pact_with_history(tmp_path: Path) -> None:
    pact = new_pact("history")
    state = f"profile {PROFILE_ID} is part-way through {TITLE_ID}"
    position = {
        "title_id": match.str(TITLE_ID),
        "position_s": match.number(600.0),
        "duration_s": match.number(3600.0),
    }
    (
        pact.upon_receiving("the profile's titles in progress")
        .given(state)
        .with_request("GET", f"/v1/profiles/{PROFILE_ID}/continue-watching")
        .with_query_parameter("up_next", "true")  # series' next episodes too (e8e78ea)
        .will_respond_with(200)
        .with_body({"items": match.each_like(position)}, content_type="application/json")
    )
    (
        pact.upon_receiving("the profile's resume point in a title")
        .given(state)
        .with_request("GET", f"/v1/profiles/{PROFILE_ID}/progress/{TITLE_ID}")
        .will_respond_with(200)
        .with_body(position, content_type="application/json")
    )

    (
        pact.upon_receiving("the titles the profile finished")
        .given(f"profile {PROFILE_ID} finished {FINISHED_ID}")
        .with_request("GET", f"/v1/profiles/{PROFILE_ID}/watched")
        .will_respond_with(200)
        .with_body(
            {
                "items": match.each_like(
                    {**position, "title_id": match.str(FINISHED_ID), "finished": match.bool(True)}
                )
            },
            content_type="application/json",
        )
    )

    episode = f"{SERIES_ID}-s01e01"
    (
        pact.upon_receiving("the profile's resume point in an episode")
        .given(f"profile {PROFILE_ID} is part-way through {episode}")
        .with_request("GET", f"/v1/profiles/{PROFILE_ID}/progress/{SERIES_ID}")
        .with_query_parameter("episode_id", episode)
        .will_respond_with(200)
        .with_body(
            {**position, "title_id": match.str(SERIES_ID), "episode_id": match.str(episode)},
            content_type="application/json",
        )
    )

    async with gateway_against(pact) as gateway:
        sources = HomeSources()
        await HomePage(gateway)._continue_watching(None, MEMBER, PROFILE_ID, sources)  # type: ignore[arg-type]
        assert sources.continue_watching and sources.continue_watching[0]["title_id"] == TITLE_ID
        resume = await catalog_routes.progress(gateway, None, PROFILE_ID, TITLE_ID)  # type: ignore[arg-type]
        assert resume is not None and resume["position_s"] == 600.0
        # the member's profile, as checked with profiles a moment ago (in the profiles pact)
        gateway._owned[(MEMBER.account_id, PROFILE_ID)] = (time.monotonic(), {})
        watched = await history_routes.watched(None, gateway, MEMBER, profile_id=PROFILE_ID)  # type: ignore[arg-type]
        assert watched.status_code == 200
        in_episode = await history_routes.progress(
            None,  # type: ignore[arg-type]
            gateway,
            MEMBER,
            profile_id=PROFILE_ID,
            title_id=SERIES_ID,
            episode_id=episode,
        )
        assert in_episode.status_code == 200
    settle_pact(pact, "history", tmp_path)


async def test_gateway_pact_with_the_recommender(tmp_path: Path) -> None:
    pact = new_pact("recommender")
    (
        pact.upon_receiving("a profile's rows up to a maturity")
        .given(TITLE_IS_THERE)
        .with_request("GET", "/v1/rows")
        .with_query_parameters({"profile_id": PROFILE_ID, "maturity": MATURITY, "limit": "20"})
        .will_respond_with(200)
        .with_body(
            {
                "maturity": match.regex(MATURITY, regex=RATING),
                "rows": match.each_like(
                    {
                        "id": match.str("trending"),
                        "title": match.str("Trending now"),
                        "items": match.each_like({"title_id": match.str(TITLE_ID)}),
                    }
                ),
            },
            content_type="application/json",
        )
    )

    async with gateway_against(pact) as gateway:
        sources = HomeSources()
        await HomePage(gateway)._recommended(None, MEMBER, PROFILE_ID, MATURITY, sources)  # type: ignore[arg-type]
        assert not sources.degraded
        assert sources.recommended and sources.recommended[0]["items"][0]["title_id"] == TITLE_ID
    settle_pact(pact, "recommender", tmp_path)


async def test_gateway_pact_with_search(tmp_path: Path) -> None:
    pact = new_pact("search")
    hit = {**title_summary(), "year": match.int(2020)}
    (
        pact.upon_receiving("a search as the member types")
        .given(f"a title {TITLE_ID} in genre {GENRE} is indexed")
        .with_request("GET", "/v1/search")
        .with_query_parameters({"q": "contract", "limit": "20", "offset": "0"})
        .will_respond_with(200)
        .with_body(
            {
                "hits": match.each_like(hit),
                "facets": match.like({"genre": {}, "year": {}}),
                "total": match.int(1),
                "took_ms": match.number(1.5),
            },
            content_type="application/json",
        )
    )

    async with gateway_against(pact) as gateway:
        answer = await search_routes.search(
            None,  # type: ignore[arg-type]
            gateway,
            MEMBER,
            q="contract",
            genre=None,
            year=None,
            year_from=None,
            year_to=None,
            profile_id=None,
            limit=20,
            offset=0,
        )
        assert answer.status_code == 200
    settle_pact(pact, "search", tmp_path)


def client_request() -> Request:
    """A browser's request as the gateway's auth routes see it (they pass its address on)."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/auth",
        "headers": [],
        "query_string": b"",
        "client": ("203.0.113.7", 50000),
    }
    return Request(scope)


async def test_gateway_pact_with_identity(tmp_path: Path) -> None:
    pact = new_pact("identity")
    email = match.regex(MEMBER_EMAIL, regex=r"^[^@\s]+@[^@\s]+\.[a-z]+$")
    account = {
        "id": match.str("acct-contract"),
        "email": email,
        "plan": match.regex("premium", regex=r"^(basic|standard|premium)$"),
        "role": match.regex("member", regex=r"^(member|admin)$"),
        "streams": match.int(4),
        "max_height": match.int(2160),
    }
    tokens = {
        "access_token": match.str("eyJ.access"),
        "refresh_token": match.str("a-refresh-token"),
        "token_type": match.str("Bearer"),
        "expires_in": match.int(900),
    }
    (
        pact.upon_receiving("a sign-up")
        .with_request("POST", "/v1/accounts")
        .with_body(
            {"email": "new-member@example.com", "password": PASSWORD, "plan": "premium"},
            content_type="application/json",
        )
        .will_respond_with(201)
        .with_body(account, content_type="application/json")
    )
    (
        pact.upon_receiving("a sign-in")
        .given(f"an account {MEMBER_EMAIL} exists")
        .with_request("POST", "/v1/sessions")
        .with_body({"email": MEMBER_EMAIL, "password": PASSWORD}, content_type="application/json")
        .will_respond_with(200)
        .with_body(tokens, content_type="application/json")
    )
    held = {"refresh_token": of_state(REFRESH_TOKEN, "refresh_token")}
    (
        pact.upon_receiving("a refresh of the access token")
        .given(HOLDS_A_REFRESH_TOKEN)
        .with_request("POST", "/v1/sessions/refresh")
        .with_body(held, content_type="application/json")
        .will_respond_with(200)
        .with_body(tokens, content_type="application/json")
    )
    (
        pact.upon_receiving("a sign-out")
        .given(HOLDS_A_REFRESH_TOKEN)
        .with_request("POST", "/v1/sessions/logout")
        .with_body(held, content_type="application/json")
        .will_respond_with(204)
    )
    (
        pact.upon_receiving("the member's own account")
        .with_request("GET", "/v1/accounts/me")
        .will_respond_with(200)
        .with_body(account, content_type="application/json")
    )
    (
        # the same password again: the member's password stays the one the states sign in with
        pact.upon_receiving("a password change")
        .with_request("POST", "/v1/accounts/me/password")
        .with_body(
            {"old_password": PASSWORD, "new_password": PASSWORD}, content_type="application/json"
        )
        .will_respond_with(204)
    )

    async with gateway_against(pact) as gateway:
        signed_up = await auth_routes.sign_up(
            auth_routes.SignupBody(
                email="new-member@example.com", password=PASSWORD, plan="premium"
            ),
            client_request(),
            gateway,
        )
        assert signed_up.status_code == 201
        signed_in = await auth_routes.log_in(
            auth_routes.LoginBody(email=MEMBER_EMAIL, password=PASSWORD),
            client_request(),
            gateway,
        )
        assert signed_in.status_code == 200
        held_token = auth_routes.RefreshBody(refresh_token=REFRESH_TOKEN)
        refreshed = await auth_routes.refresh(held_token, client_request(), gateway)
        assert refreshed.status_code == 200
        signed_out = await auth_routes.log_out(held_token, client_request(), gateway)
        assert signed_out.status_code == 204
        mine = await auth_routes.me(None, gateway, MEMBER)  # type: ignore[arg-type]
        assert mine.status_code == 200
        same = auth_routes.PasswordBody(old_password=PASSWORD, new_password=PASSWORD)
        changed = await auth_routes.change_password(same, None, gateway, MEMBER)  # type: ignore[arg-type]
        assert changed.status_code == 204
    settle_pact(pact, "identity", tmp_path)


async def test_gateway_pact_with_playback(tmp_path: Path) -> None:
    pact = new_pact("playback")
    playable = f"a playable title {PLAYABLE_ID} and a profile of the member"
    (
        pact.upon_receiving("pressing play from a home row")
        .given(playable)
        .with_request("POST", "/v1/sessions")
        .with_body(
            {
                "profile_id": GenericMatcher(
                    "type", "p-contract-2", generator=generate.provider_state("${profile_id}")
                ),
                "title_id": PLAYABLE_ID,
                "session_id": match.regex("5e55" * 8, regex=r"^[0-9a-f]{32}$"),
                "row": match.str("top-picks"),  # the row it was pressed in, for experiments
            },
            content_type="application/json",
        )
        .will_respond_with(201)
        .with_body(
            {
                "session_id": match.regex("0" * 32, regex=r"^[0-9a-f]{32}$"),
                "manifest_url": match.regex(
                    "http://edge.example/e/1/tok/a1/master.m3u8", regex=r"^https?://.+\.m3u8$"
                ),
                "manifest_path": match.str("/e/1/tok/a1/master.m3u8"),
                "edge_urls": match.each_like(match.str("http://edge.example")),
                "resume_position_s": match.number(0.0),
                "max_height": match.int(2160),
                "duration_s": match.number(8.0),
                "expires_at": match.regex("2026-01-01T01:00:00+00:00", regex=ISO_TIME),
                "lease_expires_at": match.regex("2026-01-01T00:01:00+00:00", regex=ISO_TIME),
                "heartbeat_interval_s": match.number(20.0),
            },
            content_type="application/json",
        )
    )
    (
        pact.upon_receiving("a heartbeat")
        .given(f"session {PLAYING_SESSION} of the member is playing")
        .with_request("POST", f"/v1/sessions/{PLAYING_SESSION}/heartbeat")
        .with_body({"position_s": 30.0}, content_type="application/json")
        .will_respond_with(200)
        .with_body(
            {
                "session_id": match.str(PLAYING_SESSION),
                "position_s": match.number(30.0),
                "lease_expires_at": match.regex("2026-01-01T00:01:00+00:00", regex=ISO_TIME),
            },
            content_type="application/json",
        )
    )
    (
        pact.upon_receiving("pressing stop")
        .given(f"session {STOPPING_SESSION} of the member is playing")
        .with_request("DELETE", f"/v1/sessions/{STOPPING_SESSION}")
        .will_respond_with(204)
    )

    async with gateway_against(pact) as gateway:
        # the member's profile, as checked with profiles a moment ago (that call is in the
        # profiles pact; here profiles has no instance)
        gateway._owned[(MEMBER.account_id, "p-contract-2")] = (time.monotonic(), {})
        started = await playback_routes.start(
            playback_routes.StartBody(
                profile_id="p-contract-2", title_id=PLAYABLE_ID, row="top-picks"
            ),
            None,  # type: ignore[arg-type]
            gateway,
            MEMBER,
        )
        assert started.status_code == 201
        beat = await playback_routes.heartbeat(
            playback_routes.HeartbeatBody(position_s=30.0),
            None,  # type: ignore[arg-type]
            gateway,
            MEMBER,
            session_id=PLAYING_SESSION,
        )
        assert beat.status_code == 200
        stopped = await playback_routes.stop(
            None,  # type: ignore[arg-type]
            gateway,
            MEMBER,
            session_id=STOPPING_SESSION,
        )
        assert stopped.status_code == 204
    settle_pact(pact, "playback", tmp_path)


def beacon_request() -> Request:
    """The player's beacon request as the gateway's telemetry route sees it: the member's
    access token in Authorization (checked by the gateway, then passed on to telemetry)."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/telemetry/play",
        "headers": [(b"authorization", b"Bearer eyJ.member-access")],
        "query_string": b"",
        "client": ("203.0.113.7", 50000),
    }
    return Request(scope)


async def test_gateway_pact_with_telemetry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the gateway drops a batch telemetry does not take within half a second; a busy test
    # machine's mock server must not turn that into a missing interaction
    monkeypatch.setattr(telemetry_routes, "BEACON_DEADLINE_S", 10.0)
    monkeypatch.setattr(telemetry_routes, "OPS_DEADLINE_S", 10.0)
    pact = new_pact("telemetry")
    (
        pact.upon_receiving("a batch of play beacons")
        .given(TELEMETRY_KNOWS_THE_SESSION)
        .with_request("POST", "/v1/beacons")
        .with_body(
            {"beacons": [BEACON.model_dump(mode="json", exclude_none=True)]},
            content_type="application/json",
        )
        .will_respond_with(202)
        .with_body(
            {"accepted": match.int(1), "duplicates": match.int(0)},
            content_type="application/json",
        )
    )
    (
        pact.upon_receiving("the QoE figures for the ops page")
        .with_request("GET", "/v1/qoe")
        .will_respond_with(200)
        .with_body(
            {
                # each row (there may be none yet) has the title the gateway names
                "by_title": GenericMatcher("type", [{"title": match.str(TITLE_ID)}], min=0),
                "by_edge": match.like([]),
                "by_plan": match.like([]),
            },
            content_type="application/json",
        )
    )

    async with gateway_against(pact) as gateway:
        batch = telemetry_routes.BeaconBody(beacons=[BEACON])
        sent = await telemetry_routes.play(batch, beacon_request(), gateway)
        assert sent.status_code == 202
        assert json.loads(bytes(sent.body)) == {"accepted": 1, "duplicates": 0, "dropped": 0}
        figures = await telemetry_routes.qoe(gateway)
        assert figures["available"] and figures["by_title"][0]["title"] == TITLE_ID
    settle_pact(pact, "telemetry", tmp_path)


async def test_gateway_pact_with_experiments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a home page waits 0.1 s for a profile's cells; the mock server on a busy test machine
    # may take longer, which would make the gateway fall back to control and ask nothing more
    monkeypatch.setattr(gateway_experiments, "ALLOCATION_DEADLINE_S", 10.0)
    pact = new_pact("experiments")
    (
        pact.upon_receiving("a profile's cells")
        .given(AN_EXPERIMENT_RUNS)
        .with_request("GET", "/v1/allocations")
        .with_query_parameter("profile_id", PROFILE_ID)
        .will_respond_with(200)
        .with_body(
            {
                "profile_id": match.str(PROFILE_ID),
                "allocations": match.each_like(
                    {"experiment_id": match.str(EXPERIMENT_ID), "cell": match.str("treated")}
                ),
                "treatments": match.str("contract.row=on"),
            },
            content_type="application/json",
        )
    )
    (
        pact.upon_receiving("an exposure of a profile's cells")
        .given(AN_EXPERIMENT_RUNS)
        .with_request("POST", "/v1/exposures")
        .with_body(
            {
                "profile_id": PROFILE_ID,
                "experiment_ids": [of_state(EXPERIMENT_ID, "experiment_id")],
                "shown": [TITLE_ID],
            },
            content_type="application/json",
        )
        .will_respond_with(200)
        .with_body({"logged": match.int(1)}, content_type="application/json")
    )

    async with gateway_against(pact) as gateway:
        allocator = gateway_experiments.Allocator(gateway)
        cells = await allocator.of(PROFILE_ID)
        assert cells.experiment_ids == (EXPERIMENT_ID,)
        assert cells.override("contract.row") == "on"
        allocator.expose(PROFILE_ID, cells, shown=[TITLE_ID])
        await asyncio.gather(*allocator._sending)
    settle_pact(pact, "experiments", tmp_path)


def grey_video(*, side: int = 48, frames: int = 2, fps: int = 2) -> bytes:
    """A one-second grey video (YUV4MPEG2, uncompressed), written byte for byte here so the
    pact that carries it is the same on every machine."""
    header = f"YUV4MPEG2 W{side} H{side} F{fps}:1 Ip A1:1 C420jpeg\n".encode()
    picture = bytes([128]) * (side * side * 3 // 2)
    return header + (b"FRAME\n" + picture) * frames


def multipart(fields: dict[str, str], *, file: tuple[str, str, bytes]) -> bytes:
    """A form as an admin's browser sends it, boundary and all (`MULTIPART`)."""
    lines = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    filename, content_type, data = file
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    )
    return b"".join([*lines, head.encode(), data, f"\r\n--{BOUNDARY}--\r\n".encode()])


def source_upload() -> bytes:
    return multipart({}, file=("source.y4m", "application/octet-stream", grey_video()))


def subtitle_upload() -> bytes:
    return multipart(
        {"language": "en", "kind": "subtitles"}, file=("en.vtt", "text/vtt", SUBTITLES.encode())
    )


def uploading(body: bytes, path: str) -> Request:
    """An admin's multipart upload as the gateway's media routes receive it: type, length
    and the body, which they stream on to the encoder."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [
            (b"content-type", MULTIPART.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "query_string": b"",
        "client": ("203.0.113.7", 50000),
    }
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    return Request(scope, receive)


async def test_gateway_pact_with_the_encoder(tmp_path: Path) -> None:
    pact = new_pact("encoder")
    job = {
        "job_id": match.str(JOB_ID),
        "asset_id": match.str("a-contract"),
        "state": match.str("queued"),
    }
    (
        pact.upon_receiving("an admin uploads a title's source video")
        .with_request("POST", f"/v1/titles/{TITLE_ID}/media")
        .with_binary_body(source_upload(), MULTIPART)
        .will_respond_with(202)
        .with_body(job, content_type="application/json")
    )
    (
        pact.upon_receiving("an encode job's progress")
        .given(A_JOB_EXISTS)
        .with_request("GET", path_of_state(f"/v1/jobs/{JOB_ID}", "/v1/jobs/${job_id}"))
        .will_respond_with(200)
        .with_body(
            {**job, "title_id": match.str(TITLE_ID), "percent": match.number(0.0)},
            content_type="application/json",
        )
    )
    track = {
        "id": match.str("track-contract"),
        "language": match.regex("en", regex=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$"),
        "kind": match.regex("subtitles", regex=r"^(subtitles|captions|forced)$"),
        "name": match.str("English"),
        "cues": match.int(1),
    }
    (
        pact.upon_receiving("an admin uploads subtitles")
        .with_request("POST", f"/v1/titles/{SUBTITLED_ID}/subtitles")
        .with_body(subtitle_upload().decode(), MULTIPART)
        .will_respond_with(201)
        .with_body(track, content_type="application/json")
    )
    (
        pact.upon_receiving("a title's subtitle tracks")
        .given(f"title {SUBTITLED_ID} has English subtitles")
        .with_request("GET", f"/v1/titles/{SUBTITLED_ID}/subtitles")
        .will_respond_with(200)
        .with_body({"subtitles": match.each_like(track)}, content_type="application/json")
    )

    async with gateway_against(pact) as gateway:
        path = f"/api/v1/admin/titles/{TITLE_ID}/media"
        uploaded = await media_routes.upload_media(
            uploading(source_upload(), path), gateway, ADMIN, title_id=TITLE_ID, episode_id=None
        )
        assert uploaded.status_code == 202
        progress = await media_routes.get_job(None, gateway, ADMIN, job_id=JOB_ID)  # type: ignore[arg-type]
        assert progress.status_code == 200
        path = f"/api/v1/admin/titles/{SUBTITLED_ID}/subtitles"
        subtitled = await media_routes.upload_subtitles(
            uploading(subtitle_upload(), path),
            gateway,
            ADMIN,
            title_id=SUBTITLED_ID,
            episode_id=None,
        )
        assert subtitled.status_code == 201
        tracks = await media_routes.list_subtitles(
            None,  # type: ignore[arg-type]
            gateway,
            ADMIN,
            title_id=SUBTITLED_ID,
            episode_id=None,
        )
        assert tracks.status_code == 200
    settle_pact(pact, "encoder", tmp_path)
