"""Members and admins made through the public API, the way a person or the CLI makes them."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from cinemesh.contracts.playback import PlaybackProgress
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

    @property
    def account_id(self) -> str:
        """The account its access token names."""
        payload = self.access_token.split(".")[1]
        return str(json.loads(base64.urlsafe_b64decode(payload + "=="))["sub"])

    def watched_to(
        self, title_id: str, position_s: float, *, at: datetime | None = None
    ) -> PlaybackProgress:
        """The event playback sends when this member's profile reaches `position_s` of a
        100 s title."""
        return PlaybackProgress(
            session_id=f"s-{uuid.uuid4().hex[:8]}",
            account_id=self.account_id,
            profile_id=self.profile_id,
            title_id=title_id,
            position_s=position_s,
            duration_s=100.0,
            at=(at or datetime.now(UTC)).isoformat(),
        )


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
