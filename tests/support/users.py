"""Members and admins made through the public API, the way a person or the CLI makes them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from tests.support.platform import LocalPlatform


@dataclass
class Member:
    email: str
    password: str
    access_token: str
    refresh_token: str
    profile_id: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def login(platform: LocalPlatform, email: str, password: str) -> Member:
    response = httpx.post(
        f"{platform.gateway}/api/v1/auth/login",
        json={"email": email, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Member(email, password, body["access_token"], body["refresh_token"])


def sign_up(
    platform: LocalPlatform,
    *,
    plan: str = "premium",
    profile: str | None = "Main",
    kids: bool = False,
) -> Member:
    """A new member, signed in, with one profile (unless `profile` is None)."""
    email = f"m-{uuid.uuid4().hex[:12]}@example.com"
    password = f"Pw-{uuid.uuid4().hex}"
    created = httpx.post(
        f"{platform.gateway}/api/v1/auth/signup",
        json={"email": email, "password": password, "plan": plan},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    member = login(platform, email, password)
    if profile:
        made = httpx.post(
            f"{platform.gateway}/api/v1/profiles",
            json={"name": profile, "kids": kids},
            headers=member.headers,
            timeout=30,
        )
        assert made.status_code in (200, 201), made.text
        member.profile_id = str(made.json()["id"])
    return member


def admin(platform: LocalPlatform) -> Member:
    """An admin made with `cinemesh users create-admin`, signed in."""
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    password = f"Admin-{uuid.uuid4().hex}"
    result = platform.cli("users", "create-admin", "--email", email, "--password", password)
    assert result.returncode == 0, result.stdout + result.stderr
    return login(platform, email, password)
