"""Profiles, My List and thumbs through the gateway, with the real processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.backends import Backend
from tests.support.outbox import published_events
from tests.support.platform import LocalPlatform
from tests.support.users import Member, sign_up


def api(
    platform: LocalPlatform, member: Member, method: str, path: str, json: object = None
) -> httpx.Response:
    return httpx.request(
        method, f"{platform.gateway}/api/v1{path}", json=json, headers=member.headers, timeout=10
    )


def test_create_list_update_delete(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    made = api(
        platform,
        member,
        "POST",
        "/profiles",
        {"name": "Ana", "language": "pt-BR", "avatar": "blue"},
    )
    assert made.status_code == 201
    profile = made.json()
    assert profile["maturity"] == "NC-17" and profile["kids"] is False
    renamed = api(
        platform,
        member,
        "PATCH",
        f"/profiles/{profile['id']}",
        {"name": "Ana B", "maturity": "PG-13"},
    )
    assert renamed.json()["name"] == "Ana B" and renamed.json()["maturity"] == "PG-13"
    assert [p["name"] for p in api(platform, member, "GET", "/profiles").json()["items"]] == [
        "Ana B"
    ]
    assert api(platform, member, "DELETE", f"/profiles/{profile['id']}").status_code == 204
    assert api(platform, member, "GET", "/profiles").json()["items"] == []


def test_a_profile_remembers_its_audio_and_subtitle_languages(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    body = {"name": "Noa", "audio_language": "ja", "subtitle_language": "pt-BR"}
    made = api(platform, member, "POST", "/profiles", body).json()
    assert (made["audio_language"], made["subtitle_language"]) == ("ja", "pt-BR")
    path = f"/profiles/{made['id']}"
    subtitles_off = api(platform, member, "PATCH", path, {"subtitle_language": None}).json()
    assert (subtitles_off["audio_language"], subtitles_off["subtitle_language"]) == ("ja", None)
    api(platform, member, "PATCH", path, {"subtitle_language": "en"})
    renamed = api(platform, member, "PATCH", path, {"name": "Noa K"}).json()
    assert (renamed["audio_language"], renamed["subtitle_language"]) == ("ja", "en")
    listed = api(platform, member, "GET", "/profiles").json()["items"][0]
    assert (listed["audio_language"], listed["subtitle_language"]) == ("ja", "en")
    plain = api(platform, member, "POST", "/profiles", {"name": "Plain"}).json()
    assert (plain["audio_language"], plain["subtitle_language"]) == (None, None)
    for wrong in ("english", "EN", "en_US", 7):
        refused = api(platform, member, "PATCH", path, {"subtitle_language": wrong})
        assert refused.status_code == 422, wrong


def test_a_profile_can_turn_off_the_next_episode_starting_by_itself(
    platform: LocalPlatform,
) -> None:
    member = sign_up(platform, profile=None)
    grown_up = api(platform, member, "POST", "/profiles", {"name": "Ada"}).json()
    assert grown_up["autoplay_next_episode"] is True
    body = {"name": "Kid", "kids": True, "autoplay_next_episode": False}
    kid = api(platform, member, "POST", "/profiles", body).json()
    assert kid["autoplay_next_episode"] is False
    path = f"/profiles/{kid['id']}"
    renamed = api(platform, member, "PATCH", path, {"name": "Kiddo"}).json()
    assert renamed["autoplay_next_episode"] is False  # a patch without it keeps it
    back_on = api(platform, member, "PATCH", path, {"autoplay_next_episode": True}).json()
    assert back_on["autoplay_next_episode"] is True
    listed = {p["id"]: p for p in api(platform, member, "GET", "/profiles").json()["items"]}
    assert listed[kid["id"]]["autoplay_next_episode"] is True
    refused = api(platform, member, "PATCH", path, {"autoplay_next_episode": "maybe"})
    assert refused.status_code == 422


def test_kids_profiles_are_capped(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    kid = api(
        platform, member, "POST", "/profiles", {"name": "Kid", "kids": True, "maturity": "R"}
    ).json()
    assert kid["maturity"] == "PG"
    grown = api(platform, member, "PATCH", f"/profiles/{kid['id']}", {"maturity": "NC-17"}).json()
    assert grown["maturity"] == "PG", (
        "a kids profile stays capped until it is no longer a kids profile"
    )


def test_a_sixth_profile_is_409(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    for n in range(5):
        assert api(platform, member, "POST", "/profiles", {"name": f"P{n}"}).status_code == 201
    sixth = api(platform, member, "POST", "/profiles", {"name": "P5"})
    assert sixth.status_code == 409 and sixth.json()["error"]["code"] == "PROFILE_LIMIT"


def test_another_accounts_profile_is_404_everywhere(platform: LocalPlatform) -> None:
    owner, stranger = sign_up(platform), sign_up(platform)
    pid = owner.profile_id
    for method, path, body in [
        ("GET", f"/profiles/{pid}", None),
        ("PATCH", f"/profiles/{pid}", {"name": "x"}),
        ("DELETE", f"/profiles/{pid}", None),
        ("GET", f"/profiles/{pid}/my-list", None),
        ("PUT", f"/profiles/{pid}/my-list/t1", None),
        ("DELETE", f"/profiles/{pid}/my-list/t1", None),
        ("PUT", f"/profiles/{pid}/ratings/t1", {"rating": "up"}),
    ]:
        response = api(platform, stranger, method, path, body)
        assert response.status_code == 404, (method, path, response.status_code)
    assert api(platform, owner, "GET", f"/profiles/{pid}").status_code == 200


def test_my_list_most_recent_first_and_idempotent(platform: LocalPlatform) -> None:
    member = sign_up(platform)
    pid = member.profile_id
    for title in ("t1", "t2", "t3", "t2"):
        assert api(platform, member, "PUT", f"/profiles/{pid}/my-list/{title}").status_code == 200
    listed = [
        i["title_id"]
        for i in api(platform, member, "GET", f"/profiles/{pid}/my-list").json()["items"]
    ]
    assert listed == ["t3", "t2", "t1"]
    api(platform, member, "DELETE", f"/profiles/{pid}/my-list/t2")
    listed = [
        i["title_id"]
        for i in api(platform, member, "GET", f"/profiles/{pid}/my-list").json()["items"]
    ]
    assert listed == ["t3", "t1"]


def test_thumbs(platform: LocalPlatform) -> None:
    member = sign_up(platform)
    pid = member.profile_id
    assert (
        api(platform, member, "PUT", f"/profiles/{pid}/ratings/t9", {"rating": "up"}).json()[
            "rating"
        ]
        == "up"
    )
    assert (
        api(
            platform, member, "PUT", f"/profiles/{pid}/ratings/t9", {"rating": "sideways"}
        ).status_code
        == 422
    )


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 41},
        {"name": "a\x00b"},
        {"name": "ok", "maturity": "X"},
        {"name": "ok", "language": "english"},
        {"name": "ok", "avatar": "../../etc"},
    ],
)
def test_bad_profile_input_is_422(platform: LocalPlatform, body: dict) -> None:  # type: ignore[type-arg]
    member = sign_up(platform, profile=None)
    assert api(platform, member, "POST", "/profiles", body).status_code == 422


def test_without_a_token_is_401(platform: LocalPlatform) -> None:
    assert httpx.get(f"{platform.gateway}/api/v1/profiles", timeout=10).status_code == 401


def test_get_one_profile_answers_200_for_its_owner(platform: LocalPlatform) -> None:
    member = sign_up(platform, kids=True)
    got = api(platform, member, "GET", f"/profiles/{member.profile_id}")
    assert got.status_code == 200
    profile = got.json()
    assert profile["id"] == member.profile_id and profile["kids"] is True
    assert {"name", "avatar", "language", "maturity", "account_id"} <= set(profile)
    assert api(platform, member, "GET", "/profiles/no-such-profile").status_code == 404


def test_a_kids_profile_turned_adult_may_be_raised(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    kid = api(platform, member, "POST", "/profiles", {"name": "Kid", "kids": True, "maturity": "G"})
    assert kid.json()["maturity"] == "G", "below the cap is kept"
    pid = kid.json()["id"]
    grown = api(platform, member, "PATCH", f"/profiles/{pid}", {"kids": False, "maturity": "R"})
    assert (grown.json()["kids"], grown.json()["maturity"]) == (False, "R")
    back = api(platform, member, "PATCH", f"/profiles/{pid}", {"kids": True})
    assert back.json()["maturity"] == "PG", "becoming a kids profile again caps it"


def test_racing_creates_fill_exactly_five_slots(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)

    def create(n: int) -> int:
        return api(platform, member, "POST", "/profiles", {"name": f"Racer {n}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(create, range(8)))
    assert sorted(codes) == [201] * 5 + [409] * 3, codes
    listed = api(platform, member, "GET", "/profiles").json()["items"]
    assert len(listed) == 5
    assert api(platform, member, "DELETE", f"/profiles/{listed[0]['id']}").status_code == 204
    assert api(platform, member, "POST", "/profiles", {"name": "Again"}).status_code == 201


def test_removing_a_title_not_in_the_list_is_fine(platform: LocalPlatform) -> None:
    member = sign_up(platform)
    gone = api(platform, member, "DELETE", f"/profiles/{member.profile_id}/my-list/t-none")
    assert gone.status_code == 200 and gone.json()["in_list"] is False


def test_thumbs_replace_and_clear(platform: LocalPlatform) -> None:
    member = sign_up(platform)
    pid = member.profile_id
    for rating in ("up", "down"):
        response = api(platform, member, "PUT", f"/profiles/{pid}/ratings/t7", {"rating": rating})
        assert response.status_code == 200 and response.json()["rating"] == rating
    api(platform, member, "PUT", f"/profiles/{pid}/ratings/t8", {"rating": "up"})
    api(platform, member, "PUT", f"/profiles/{pid}/ratings/t8", {"rating": "none"})
    stored = httpx.get(
        platform.url_of("profiles") + f"/v1/profiles/{pid}/ratings",
        headers={**platform.headers, **member.headers},
        timeout=10,
    ).json()["items"]
    assert [(r["title_id"], r["rating"]) for r in stored] == [("t7", "down")]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/my-list/bad%20id", None),
        ("PUT", "/my-list/" + "t" * 65, None),
        ("PUT", "/ratings/t1", {}),
        ("PUT", "/ratings/t1", {"rating": None}),
        ("PATCH", "", {"name": "   "}),
        ("PATCH", "", {"maturity": "XXX"}),
        ("PATCH", "", []),
    ],
)
def test_bad_input_on_a_profile_is_422(
    platform: LocalPlatform, method: str, path: str, body: object
) -> None:
    member = sign_up(platform)
    response = api(platform, member, method, f"/profiles/{member.profile_id}{path}", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "INVALID_REQUEST"


def test_a_forged_token_is_401(platform: LocalPlatform) -> None:
    member = sign_up(platform)
    header, payload, signature = member.access_token.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    response = httpx.get(
        f"{platform.gateway}/api/v1/profiles",
        headers={"Authorization": f"Bearer {forged}"},
        timeout=10,
    )
    assert response.status_code == 401
    direct = httpx.get(
        platform.url_of("profiles") + "/v1/profiles",
        headers={**platform.headers, "Authorization": f"Bearer {forged}"},
        timeout=10,
    )
    assert direct.status_code == 401, "profiles verifies the token itself, not only the gateway"


def test_profile_events_go_out_through_the_outbox(
    platform: LocalPlatform, module_backend: Backend
) -> None:
    member = sign_up(platform)
    pid = member.profile_id
    api(platform, member, "PUT", f"/profiles/{pid}/my-list/t-ev", None)
    api(platform, member, "PUT", f"/profiles/{pid}/ratings/t-ev", {"rating": "up"})
    assert api(platform, member, "DELETE", f"/profiles/{pid}").status_code == 204
    types = published_events(
        module_backend,
        platform.data_dir,
        "profiles",
        want="profiles.profile.deleted",
        mentioning=pid,
    )
    assert {
        "profiles.profile.upserted",
        "profiles.mylist.changed",
        "profiles.rating.set",
        "profiles.profile.deleted",
    } <= set(types)
