"""Every public route, for each of {anonymous, another account, the owner, an admin}, each with the
status it must answer. The table must name every operation in the gateway's OpenAPI schema,
so a new route cannot ship without saying who may use it.

The resources in a path (a profile, a playback session) belong to the owner; "another
account" is a signed-in member with profiles of its own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.playback.media import add_title, make_package, start_session
from tests.support.backends import EmbeddedNats
from tests.support.platform import LocalPlatform, unthrottled_platform
from tests.support.users import Member, admin, sign_up

SERVICES = [
    "registry",
    "identity",
    "profiles",
    "catalog",
    "search",
    "playback",
    "edge",
    "history",
    "recommender",
    "encoder",
    "telemetry",
    "experiments",
    "gateway",
]
ROLES = ("anonymous", "other", "owner", "admin")
OK = (200, 201, 202, 204)
NOT_YOURS = (403, 404)  # never 200, never 500


@dataclass(frozen=True)
class Rule:
    """One operation: how to call it, and the statuses each role may get."""

    method: str
    path: str
    expected: dict[str, tuple[int, ...]]
    body: Any = None


def member_only(owner: tuple[int, ...] = OK) -> dict[str, tuple[int, ...]]:
    """Any signed-in member, no resource of anyone's in the path."""
    return {"anonymous": (401,), "other": owner, "owner": owner, "admin": owner}


def owner_only(owner: tuple[int, ...] = OK) -> dict[str, tuple[int, ...]]:
    """A resource of the owner's: another account must not learn it exists."""
    return {"anonymous": (401,), "other": NOT_YOURS, "owner": owner, "admin": NOT_YOURS}


def admin_only(admin_gets: tuple[int, ...] = OK) -> dict[str, tuple[int, ...]]:
    return {"anonymous": (401,), "other": (403,), "owner": (403,), "admin": admin_gets}


def public(answer: tuple[int, ...] = OK) -> dict[str, tuple[int, ...]]:
    return dict.fromkeys(ROLES, answer)


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, embedded_nats: EmbeddedNats
) -> Iterator[LocalPlatform]:
    with unthrottled_platform(
        tmp_path_factory.mktemp("authz"), embedded_nats.url, services=SERVICES
    ) as running:
        yield running


@pytest.fixture(scope="module")
def world(platform: LocalPlatform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The owner's profile, a playable title and a live session of the owner's."""
    boss = admin(platform)
    owner, other = sign_up(platform), sign_up(platform)
    spare = httpx.post(
        f"{platform.gateway}/api/v1/profiles",
        json={"name": "Spare"},
        headers=owner.headers,
        timeout=30,
    )
    assert spare.status_code == 201, spare.text
    package = make_package(tmp_path_factory.mktemp("authz-pkg") / "pkg")
    title = add_title(env=platform.env, data_dir=platform.data_dir, package=package)
    started = start_session(
        platform.gateway,
        owner.headers,
        {"profile_id": owner.profile_id, "title_id": title.title_id},
    )
    assert started.status_code == 201, started.text
    session_id = started.json()["session_id"]
    beat = httpx.post(
        f"{platform.gateway}/api/v1/playback/sessions/{session_id}/heartbeat",
        json={"position_s": 2.0},
        headers=owner.headers,
        timeout=10,
    )
    assert beat.status_code == 200, beat.text
    progress = f"{platform.gateway}/api/v1/profiles/{owner.profile_id}/progress/{title.title_id}"
    deadline = time.monotonic() + 10  # history learns it from the heartbeat's event
    while httpx.get(progress, headers=owner.headers, timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "history never recorded the heartbeat"
        time.sleep(0.2)
    made = httpx.post(
        f"{platform.gateway}/api/v1/admin/titles",
        headers=boss.headers,
        json={"title": "Matrix", "kind": "movie", "genres": ["Drama"], "year": 1999},
        timeout=30,
    )
    assert made.status_code in (200, 201), made.text
    return {
        "admin": boss,
        "owner": owner,
        "other": other,
        "profile": owner.profile_id,
        "spare_profile": spare.json()["id"],
        "title": title.title_id,
        "catalog_title": made.json()["id"],
        "session": session_id,
    }


def rules(w: dict[str, Any]) -> list[Rule]:
    p, t, s = w["profile"], w["title"], w["session"]
    ct = w["catalog_title"]
    return [
        Rule("POST", "/auth/signup", public((201, 409)), {"email": "x@example.com", "password": "Matrix-pass-1234"}),
        Rule("POST", "/auth/login", public((401,)), {"email": "nobody@example.com", "password": "Wrong-pass-1234"}),
        Rule("POST", "/auth/refresh", public((401,)), {"refresh_token": "not-a-real-refresh-token"}),
        Rule("POST", "/auth/logout", public((204, 401)), {"refresh_token": "not-a-real-refresh-token"}),
        Rule("GET", "/auth/me", member_only()),
        Rule("POST", "/auth/password", member_only((401, 403, 422)), {"old_password": "not-it-at-all", "new_password": "Another-pass-1234"}),
        Rule("GET", f"/titles/{ct}", member_only()),
        Rule("GET", "/browse", member_only()),
        Rule("GET", "/genres", member_only()),
        Rule("GET", f"/artwork/{ct}/poster", public()),
        Rule("GET", "/search?q=matrix", member_only()),
        Rule("GET", f"/home?profile_id={p}", owner_only()),
        Rule("GET", "/profiles", member_only()),
        Rule("POST", "/profiles", member_only((201, 409)), {"name": "Another"}),
        Rule("GET", f"/profiles/{p}", owner_only()),
        Rule("PATCH", f"/profiles/{p}", owner_only(), {"name": "Renamed"}),
        Rule("GET", f"/profiles/{p}/my-list", owner_only()),
        Rule("PUT", f"/profiles/{p}/my-list/{ct}", owner_only()),
        Rule("DELETE", f"/profiles/{p}/my-list/{ct}", owner_only()),
        Rule("PUT", f"/profiles/{p}/ratings/{ct}", owner_only(), {"rating": "up"}),
        Rule("GET", f"/profiles/{p}/continue-watching", owner_only()),
        Rule("GET", f"/profiles/{p}/watched", owner_only()),
        Rule("GET", f"/profiles/{p}/progress/{t}", owner_only()),
        Rule("POST", "/playback/sessions", owner_only((201, 429)), {"profile_id": p, "title_id": t}),
        Rule("POST", f"/playback/sessions/{s}/heartbeat", owner_only(), {"position_s": 1.0}),
        Rule("POST", "/admin/titles", admin_only(), {"title": "Made by the matrix", "kind": "movie", "genres": ["Drama"], "year": 2001}),
        Rule("PATCH", f"/admin/titles/{ct}", admin_only(), {"synopsis": "Changed by the matrix."}),
        Rule("POST", f"/admin/titles/{ct}/episodes", admin_only((201, 404, 409, 422)), {"season": 1, "number": 1, "title": "Pilot", "runtime_min": 30}),
        Rule("POST", f"/admin/titles/{ct}/media", admin_only((415, 422))),
        Rule("PATCH", f"/admin/titles/{ct}/episodes/{uuid.uuid4().hex}", admin_only((404, 422)), {"title": "Renamed"}),
        Rule("GET", f"/admin/titles/{ct}/subtitles", admin_only((200, 404))),
        Rule("POST", f"/admin/titles/{ct}/subtitles", admin_only((415, 422))),
        Rule("GET", f"/admin/jobs/{uuid.uuid4().hex}", admin_only((404, 503))),
        Rule("POST", "/admin/experiments", admin_only((201,)), {"name": "matrix-banner", "layer": "matrix", "cells": [{"name": "a"}, {"name": "b", "treatments": {"banner.style": "bold"}}]}),
        Rule("GET", "/admin/experiments", admin_only()),
        Rule("GET", "/admin/experiments/matrix-banner", admin_only()),
        Rule("POST", "/admin/experiments/matrix-banner/start", admin_only()),
        Rule("GET", "/admin/experiments/matrix-banner/report", admin_only()),
        Rule("POST", "/admin/experiments/matrix-banner/stop", admin_only()),
        Rule("GET", "/ops/experiments", public()),
        Rule("POST", "/telemetry/play", owner_only((202,)), {"beacons": [{"session_id": s, "seq": 0, "played_ms": 1000}]}),
        Rule("GET", "/ops/services", public()),
        Rule("GET", "/ops/telemetry", public()),
        Rule("GET", "/ops/chaos", admin_only()),
        Rule("POST", "/ops/chaos/kill", admin_only((404, 422)), {"service": "no-such-service"}),
        Rule("POST", "/ops/chaos/revive", admin_only((404, 422)), {"service": "no-such-service"}),
        Rule("PUT", "/ops/chaos/faults/recommender", admin_only(), {"latency_ms": 0, "error_rate": 0}),
        Rule("DELETE", "/ops/chaos/faults/recommender", admin_only()),
        # Last: these end the owner's things.
        Rule("DELETE", f"/playback/sessions/{s}", owner_only((204,))),
        Rule("DELETE", f"/profiles/{w['spare_profile']}", owner_only((204,))),
        Rule("DELETE", f"/admin/titles/{ct}", admin_only((204,))),
    ]  # fmt: skip


def headers_of(role: str, w: dict[str, Any]) -> dict[str, str]:
    if role == "anonymous":
        return {}
    who: Member = w[role]
    return who.headers


def test_every_route_answers_each_role_as_the_matrix_says(
    platform: LocalPlatform, world: dict[str, Any]
) -> None:
    table = rules(world)
    schema = httpx.get(f"{platform.gateway}/openapi.json", timeout=10).json()
    operations = {
        f"{method.upper()} {path}" for path, ops in schema["paths"].items() for method in ops
    }
    covered = {f"{r.method} {_template(r.path, schema)}" for r in table}
    assert operations <= covered, (
        f"routes with no row in the matrix: {sorted(operations - covered)}"
    )

    wrong: list[str] = []
    for rule in table:
        for role in ("anonymous", "other", "admin", "owner"):  # the owner's changes come last
            answer = httpx.request(
                rule.method,
                f"{platform.gateway}/api/v1{rule.path}",
                json=rule.body,
                headers=headers_of(role, world),
                timeout=30,
            )
            if answer.status_code not in rule.expected[role]:
                wrong.append(
                    f"{rule.method} {rule.path} as {role}: {answer.status_code} "
                    f"(expected {rule.expected[role]}) {answer.text[:160]}"
                )
    assert not wrong, "\n".join(wrong)


def _template(concrete: str, schema: dict[str, Any]) -> str:
    """The schema path a concrete path was made from (`/profiles/abc` -> `/profiles/{id}`)."""
    bare = "/api/v1" + concrete.split("?", 1)[0]
    parts = bare.strip("/").split("/")
    for path in schema["paths"]:
        template = path.strip("/").split("/")
        if len(template) == len(parts) and all(
            t == c or (t.startswith("{") and t.endswith("}"))
            for t, c in zip(template, parts, strict=True)
        ):
            return path
    return bare


def test_no_password_token_or_key_reaches_the_logs(
    platform: LocalPlatform, world: dict[str, Any]
) -> None:
    """After every route was called by every role, grep the logs of all the services."""
    files = sorted((platform.data_dir / "logs").glob("*.log"))
    assert {f.name.split("-")[0] for f in files} >= set(SERVICES), "a service wrote no log"
    logs = "".join(f.read_text(errors="replace") for f in files)
    secrets: dict[str, str] = {}
    for role in ("owner", "other", "admin"):
        who: Member = world[role]
        secrets |= {
            f"{role} password": who.password,
            f"{role} access token": who.access_token,
            f"{role} refresh token": who.refresh_token,
        }
    for key in (platform.data_dir / "secrets").iterdir():
        body = key.read_text().strip()
        if key.suffix == ".pem":  # a line of the private key in the middle of the PEM
            body = body.splitlines()[1]
        secrets[key.name] = body
    leaked = sorted(name for name, value in secrets.items() if value and value in logs)
    assert not leaked, f"found in the logs: {leaked}"
