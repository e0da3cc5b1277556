"""The public API answers what its own OpenAPI document says, on SQLite as on PostgreSQL:
every timestamp it returns is RFC 3339 with a UTC offset (SQLite keeps no offset and hands back
naive datetimes), a request body of the wrong type is refused rather than coerced, and a 405
names in `Allow` exactly the methods its path supports."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cinemesh.demo.seeding import SEED_MODE_ENV
from tests.encoder.conftest import MEDIA_ENV, make_video
from tests.playback.media import add_title, make_package, start_session
from tests.support.backends import Backend
from tests.support.platform import LocalPlatform
from tests.support.timestamps import moments, without_offset
from tests.support.users import Member, admin, sign_up

SERVICES = [
    "registry",
    "identity",
    "profiles",
    "catalog",
    "playback",
    "edge",
    "history",
    "encoder",
    "gateway",
]
UNTHROTTLED = {"CINEMESH_GATEWAY_RATE_PER_IP": "0", "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0"}


@pytest.fixture(scope="module")
def platform(
    module_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPlatform]:
    running = LocalPlatform(
        tmp_path_factory.mktemp(f"timestamps-{module_backend.name}"),
        services=SERVICES,
        env={**module_backend.env, **UNTHROTTLED, **MEDIA_ENV, SEED_MODE_ENV: "off"},
    ).start(timeout_s=300)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def boss(platform: LocalPlatform) -> Member:
    return admin(platform)


class Tour:
    """Calls the API and keeps every answer it got, by operation."""

    def __init__(self, gateway: str, headers: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=gateway, headers=headers, timeout=30)
        self.answers: dict[str, Any] = {}

    def call(self, method: str, path: str, operation: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        body = response.json() if response.content else None
        self.answers[f"{method} /api/v1{operation}"] = body
        return body


def wait_until_answered(tour: Tour, path: str, operation: str) -> Any:
    """History learns of a heartbeat through its event: ask until it has."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return tour.call("GET", path, operation)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_every_timestamp_the_api_returns_has_an_offset(
    platform: LocalPlatform, tmp_path: Path
) -> None:
    member, boss = sign_up(platform), admin(platform)
    package = make_package(tmp_path / "pkg")
    title = add_title(env=platform.env, data_dir=platform.data_dir, package=package)
    started = start_session(
        platform.gateway,
        member.headers,
        {"profile_id": member.profile_id, "title_id": title.title_id},
    )
    assert started.status_code == 201, started.text

    api = f"{platform.gateway}/api/v1"
    tour, ops = Tour(api, member.headers), Tour(api, boss.headers)
    tour.answers["POST /api/v1/playback/sessions"] = started.json()
    p, t, s = member.profile_id, title.title_id, started.json()["session_id"]
    tour.call(
        "POST",
        f"/playback/sessions/{s}/heartbeat",
        "/playback/sessions/{session_id}/heartbeat",
        json={"position_s": 3},  # a JSON integer is a number
    )
    tour.call("GET", "/auth/me", "/auth/me")
    tour.call("GET", "/profiles", "/profiles")
    tour.call("GET", f"/profiles/{p}", "/profiles/{profile_id}")
    tour.call("PUT", f"/profiles/{p}/my-list/{t}", "/profiles/{profile_id}/my-list/{title_id}")
    tour.call("GET", f"/profiles/{p}/my-list", "/profiles/{profile_id}/my-list")
    tour.call(
        "PUT",
        f"/profiles/{p}/ratings/{t}",
        "/profiles/{profile_id}/ratings/{title_id}",
        json={"rating": "up"},
    )
    wait_until_answered(
        tour, f"/profiles/{p}/progress/{t}", "/profiles/{profile_id}/progress/{title_id}"
    )
    tour.call("GET", f"/profiles/{p}/continue-watching", "/profiles/{profile_id}/continue-watching")
    tour.call("GET", f"/profiles/{p}/watched", "/profiles/{profile_id}/watched")
    tour.call("GET", "/home", "/home", params={"profile_id": p})

    made = ops.call(
        "POST", "/admin/titles", "/admin/titles", json={"title": "Clockwork", "kind": "series"}
    )
    ops.call(
        "PATCH", f"/admin/titles/{made['id']}", "/admin/titles/{title_id}", json={"year": 2001}
    )
    tour.call("GET", f"/titles/{made['id']}", "/titles/{title_id}", params={"profile_id": p})
    ops.call(
        "POST",
        f"/admin/titles/{made['id']}/episodes",
        "/admin/titles/{title_id}/episodes",
        json={"season": 1, "number": 1, "name": "Tick"},
    )
    with make_video(tmp_path / "source.mp4", width=160, height=90, seconds=1).open("rb") as source:
        job = ops.call(
            "POST",
            f"/admin/titles/{made['id']}/media",
            "/admin/titles/{title_id}/media",
            files={"file": ("source.mp4", source, "video/mp4")},
        )
    ops.call("GET", f"/admin/jobs/{job['job_id']}", "/admin/jobs/{job_id}")
    ops.call("GET", "/ops/services", "/ops/services")

    answers = {**tour.answers, **ops.answers}
    seen = {
        f"{operation} {path}" for operation, body in answers.items() for path, _ in moments(body)
    }
    assert len(seen) >= 6, f"the tour met too few timestamps to prove anything: {sorted(seen)}"
    wrong = {operation: without_offset(body) for operation, body in answers.items()}
    assert not any(wrong.values()), {op: found for op, found in wrong.items() if found}


WRONG_TYPES = [
    ("POST", "/admin/titles", {"title": "Zero", "kind": "movie", "available": 0}, "available"),
    ("POST", "/admin/titles", {"title": "Zero", "kind": "movie", "year": "1999"}, "year"),
    ("POST", "/admin/titles", {"title": "Zero", "kind": "movie", "popularity": True}, "popularity"),
    ("POST", "/profiles", {"name": "Kid", "kids": "true"}, "kids"),
    ("POST", "/profiles", {"name": 7}, "name"),
    ("POST", "/playback/sessions/s1/heartbeat", {"position_s": "3"}, "position_s"),
    ("POST", "/auth/login", {"email": "a@example.com", "password": 1234567890}, "password"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), WRONG_TYPES)
def test_a_body_of_the_wrong_type_is_refused_never_coerced(
    platform: LocalPlatform, boss: Member, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    answer = httpx.request(
        method, f"{platform.gateway}/api/v1{path}", json=body, headers=boss.headers, timeout=30
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert f"body.{field}:" in error["message"], error


def test_numbers_sent_as_json_integers_are_still_numbers(
    platform: LocalPlatform, boss: Member
) -> None:
    made = httpx.post(
        f"{platform.gateway}/api/v1/admin/titles",
        json={"title": "Whole numbers", "kind": "movie", "popularity": 5, "year": 2001},
        headers=boss.headers,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    assert made.json()["popularity"] == 5.0


def test_allow_names_exactly_the_methods_of_each_path(platform: LocalPlatform) -> None:
    """OPTIONS is no method of the API: each path answers 405 with the methods its OpenAPI
    entry lists (Starlette named those of the first route only: `Allow: PATCH` for a title)."""
    schema = httpx.get(f"{platform.gateway}/openapi.json", timeout=10).json()
    wrong: dict[str, str] = {}
    for template, operations in schema["paths"].items():
        path = re.sub(r"\{[^}]+\}", "x1", template)
        answer = httpx.options(f"{platform.gateway}{path}", timeout=10)
        documented = ", ".join(sorted(method.upper() for method in operations))
        if answer.status_code != 405 or answer.headers.get("allow") != documented:
            wrong[template] = f"{answer.status_code} Allow: {answer.headers.get('allow')}"
    assert not wrong, wrong


def test_sign_up_documents_its_password_rules(platform: LocalPlatform) -> None:
    """What JSON Schema can say is in the schema (and enforced by it); the rest are codes of
    the operation's documented 422."""
    schema = httpx.get(f"{platform.gateway}/openapi.json", timeout=10).json()
    operation = schema["paths"]["/api/v1/auth/signup"]["post"]
    body = schema["components"]["schemas"]["SignupBody"]["properties"]["password"]
    assert (body["minLength"], body["maxLength"]) == (10, 256)
    pattern = re.compile(body["pattern"])
    assert pattern.search("Ten-chars-1") and not pattern.search("onlyletters")
    documented = operation["responses"]["422"]["content"]["application/json"]["examples"]
    assert set(documented) == {"INVALID_REQUEST", "WEAK_PASSWORD"}

    def sign_up_with(password: str) -> httpx.Response:
        return httpx.post(
            f"{platform.gateway}/api/v1/auth/signup",
            json={"email": f"p-{uuid.uuid4().hex[:8]}@example.com", "password": password},
            timeout=30,
        )

    for password, rule in [
        ("onlylettershere", "digit or symbol"),
        ("Short-1", "at least 10 characters"),
        ("ababababab1", "5 different characters"),
    ]:
        refused = sign_up_with(password)
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["code"] == "WEAK_PASSWORD" and rule in error["message"], error


CHAINS = [
    ("POST /api/v1/profiles", "GET /api/v1/profiles/{profile_id}/my-list"),
    ("POST /api/v1/profiles", "DELETE /api/v1/profiles/{profile_id}"),
    ("GET /api/v1/profiles", "POST /api/v1/playback/sessions"),
    ("PUT /api/v1/profiles/{profile_id}/my-list/{title_id}", "DELETE /api/v1/profiles/{profile_id}/my-list/{title_id}"),
    ("GET /api/v1/profiles/{profile_id}/my-list", "DELETE /api/v1/profiles/{profile_id}/my-list/{title_id}"),
    ("POST /api/v1/playback/sessions", "POST /api/v1/playback/sessions/{session_id}/heartbeat"),
    ("POST /api/v1/playback/sessions/{session_id}/heartbeat", "DELETE /api/v1/playback/sessions/{session_id}"),
    ("POST /api/v1/admin/titles", "PATCH /api/v1/admin/titles/{title_id}"),
    ("POST /api/v1/admin/titles", "DELETE /api/v1/admin/titles/{title_id}"),
    ("POST /api/v1/admin/titles", "POST /api/v1/admin/titles/{title_id}/episodes"),
    ("POST /api/v1/admin/titles/{title_id}/episodes", "POST /api/v1/admin/titles/{title_id}/media"),
    ("POST /api/v1/admin/titles/{title_id}/media", "GET /api/v1/admin/jobs/{job_id}"),
    ("GET /api/v1/browse", "GET /api/v1/titles/{title_id}"),
    ("POST /api/v1/auth/login", "POST /api/v1/auth/refresh"),
]  # fmt: skip


def test_links_chain_every_id_to_the_operations_that_take_it(platform: LocalPlatform) -> None:
    """Each link names an operation of the document and parameters it has; the ids the API
    hands out (profiles, sessions, my-list items, titles, episodes, jobs) are all linked on."""
    schema = httpx.get(f"{platform.gateway}/openapi.json", timeout=10).json()
    chains: set[tuple[str, str]] = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for answer in operation["responses"].values():
                for name, found in answer.get("links", {}).items():
                    pointer = found["operationRef"].removeprefix("#/paths/")
                    target_path, target_method = pointer.rsplit("/", 1)
                    target_path = target_path.replace("~1", "/").replace("~0", "~")
                    target = schema["paths"][target_path][target_method]
                    names = {f"{p['in']}.{p['name']}" for p in target.get("parameters", [])}
                    assert set(found.get("parameters", {})) <= names, (path, method, name)
                    chains.add(
                        (f"{method.upper()} {path}", f"{target_method.upper()} {target_path}")
                    )
    assert not set(CHAINS) - chains, sorted(set(CHAINS) - chains)


def test_text_with_a_nul_is_refused_as_the_schema_says_never_a_5xx(
    platform: LocalPlatform, boss: Member
) -> None:
    """PostgreSQL stores no NUL in text: the schema refuses it where text reaches a database
    (the fuzzer found browse's genre answering 503 on PostgreSQL)."""
    api = f"{platform.gateway}/api/v1"
    browse = httpx.get(f"{api}/browse", params={"genre": "Dra\x00ma"}, headers=boss.headers)
    assert browse.status_code == 422, browse.text
    made = httpx.post(
        f"{api}/admin/titles",
        json={"title": "Nul", "kind": "movie", "synopsis": "before\u0000after"},
        headers=boss.headers,
        timeout=30,
    )
    assert made.status_code == 422, made.text
