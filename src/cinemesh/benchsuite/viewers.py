"""A catalog and signed-in viewers made through the public API, as people and admins make
them, for load against a running platform: the overload bench and test share them."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx

from cinemesh.benchsuite.openloop import Request
from cinemesh.runner.local import LocalPlatform

GENRES = ("Drama", "Comedy", "Horror", "Documentary", "Sci-Fi", "Animation")


@dataclass(frozen=True)
class Viewer:
    profile_id: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def home(self) -> Request:
        return Request("GET", f"/api/v1/home?profile_id={self.profile_id}", self.headers)


def seed_catalog(platform: LocalPlatform, *, titles: int) -> list[str]:
    """`titles` movies added by an admin made with `cinemesh users create-admin`."""
    email, password = f"admin-{uuid.uuid4().hex[:8]}@example.com", f"Admin-{uuid.uuid4().hex}"
    made = platform.cli(
        "users", "create-admin", "--email", email, "--password", password, timeout_s=300
    )
    assert made.returncode == 0, made.stdout + made.stderr
    with httpx.Client(base_url=platform.gateway, timeout=30) as client:
        signed_in = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        ids = []
        for n in range(titles):
            created = client.post(
                "/api/v1/admin/titles",
                headers=headers,
                json={
                    "title": f"Load Title {n}",
                    "kind": "movie",
                    "genres": [GENRES[n % len(GENRES)]],
                    "year": 1990 + n % 35,
                    "maturity_rating": ("G", "PG", "PG-13", "R")[n % 4],
                },
            )
            assert created.status_code == 201, created.text
            ids.append(str(created.json()["id"]))
    return ids


def sign_up_viewers(platform: LocalPlatform, count: int) -> list[Viewer]:
    """`count` premium members, signed in, with one profile each."""
    viewers = []
    with httpx.Client(base_url=platform.gateway, timeout=30) as client:
        for _ in range(count):
            email, password = f"v-{uuid.uuid4().hex[:12]}@example.com", f"Pw-{uuid.uuid4().hex}"
            made = client.post(
                "/api/v1/auth/signup",
                json={"email": email, "password": password, "plan": "premium"},
            )
            assert made.status_code == 201, made.text
            tokens = client.post("/api/v1/auth/login", json={"email": email, "password": password})
            token = str(tokens.json()["access_token"])
            profile = client.post(
                "/api/v1/profiles",
                json={"name": "Main"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert profile.status_code == 201, profile.text
            viewers.append(Viewer(str(profile.json()["id"]), token))
    return viewers


def wait_for_whole_home_page(
    platform: LocalPlatform, viewer: Viewer, *, timeout_s: float = 60
) -> None:
    """Until a viewer's home page has rows and nothing degraded (the services learn the new
    titles from events, which takes a moment)."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        page = httpx.get(
            f"{platform.gateway}/api/v1/home",
            params={"profile_id": viewer.profile_id},
            headers=viewer.headers,
            timeout=30,
        )
        body = page.json() if page.status_code == 200 else {}
        if body.get("rows") and not body.get("degraded"):
            return
        last = f"{page.status_code} {page.text[:300]}"
        time.sleep(0.5)
    raise AssertionError(f"no whole home page within {timeout_s:.0f} s: {last}")
