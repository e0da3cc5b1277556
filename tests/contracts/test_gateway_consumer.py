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

import re
import time
from pathlib import Path

from fastapi import Request
from pact import generate, match
from pact.match.matcher import AbstractMatcher, GenericMatcher

from cinemesh.contracts.maturity import RATINGS
from cinemesh.services.gateway.home import HomePage, HomeSources
from cinemesh.services.gateway.routes import auth as auth_routes
from cinemesh.services.gateway.routes import catalog as catalog_routes
from cinemesh.services.gateway.routes import playback as playback_routes
from cinemesh.services.gateway.routes import search as search_routes
from tests.contracts.conftest import MEMBER, gateway_against, new_pact, settle_pact

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


def path_of_state(example: str, template: str) -> AbstractMatcher[str]:
    """A path holding an id the provider makes in its state (`${profile_id}` in `template`):
    the example here, the provider's own id when verified."""
    shape = "^" + re.escape(template).replace(re.escape("${profile_id}"), "[A-Za-z0-9_-]+") + "$"
    return GenericMatcher(
        "regex", example, generator=generate.provider_state(template), regex=shape
    )


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
    settle_pact(pact, "catalog", tmp_path)


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

    async with gateway_against(pact) as gateway:
        profile = await gateway.require_profile(None, MEMBER, "p-contract-2")  # type: ignore[arg-type]
        assert catalog_routes.profile_maturity(profile) == MATURITY
        sources = HomeSources()
        await HomePage(gateway)._my_list(None, MEMBER, "p-contract-2", sources)  # type: ignore[arg-type]
        assert sources.my_list == [TITLE_ID]
    settle_pact(pact, "profiles", tmp_path)


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

    async with gateway_against(pact) as gateway:
        sources = HomeSources()
        await HomePage(gateway)._continue_watching(None, MEMBER, PROFILE_ID, sources)  # type: ignore[arg-type]
        assert sources.continue_watching and sources.continue_watching[0]["title_id"] == TITLE_ID
        resume = await catalog_routes.progress(gateway, None, PROFILE_ID, TITLE_ID)  # type: ignore[arg-type]
        assert resume is not None and resume["position_s"] == 600.0
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
        "streams": match.int(4),
        "max_height": match.int(2160),
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
        .with_body(
            {
                "access_token": match.str("eyJ.access"),
                "refresh_token": match.str("a-refresh-token"),
                "expires_in": match.int(900),
            },
            content_type="application/json",
        )
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
    settle_pact(pact, "identity", tmp_path)


async def test_gateway_pact_with_playback(tmp_path: Path) -> None:
    pact = new_pact("playback")
    playable = f"a playable title {PLAYABLE_ID} and a profile of the member"
    (
        pact.upon_receiving("pressing play")
        .given(playable)
        .with_request("POST", "/v1/sessions")
        .with_body(
            {
                "profile_id": GenericMatcher(
                    "type", "p-contract-2", generator=generate.provider_state("${profile_id}")
                ),
                "title_id": PLAYABLE_ID,
                "session_id": match.regex("5e55" * 8, regex=r"^[0-9a-f]{32}$"),
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
            playback_routes.StartBody(profile_id="p-contract-2", title_id=PLAYABLE_ID),
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
