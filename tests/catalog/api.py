"""Calling the public API as someone holding a minted token (no identity service needed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.platform import LocalPlatform
from tests.support.tokens import TokenMint

NO_LIMITS = {"CINEMESH_GATEWAY_RATE_PER_IP": "0", "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0"}


@dataclass
class Caller:
    platform: LocalPlatform
    headers: dict[str, str]
    profile_id: str = ""

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.platform.gateway}/api/v1{path}",
            headers=self.headers,
            timeout=30,
            **kwargs,
        )

    def make_title(self, **fields: Any) -> dict[str, Any]:
        body = {"title": "A Title", "kind": "movie", "genres": ["Drama"], "year": 2001, **fields}
        made = self("POST", "/admin/titles", json=body)
        assert made.status_code == 201, made.text
        return dict(made.json())


def admin_of(platform: LocalPlatform, mint: TokenMint) -> Caller:
    return Caller(platform, mint.admin_headers())


def member_of(platform: LocalPlatform, mint: TokenMint, *, kids: bool = False) -> Caller:
    """A member with one profile (a kids profile when `kids`)."""
    member = Caller(platform, mint.headers())
    made = member("POST", "/profiles", json={"name": "Kid" if kids else "Main", "kids": kids})
    assert made.status_code in (200, 201), made.text
    member.profile_id = str(made.json()["id"])
    return member


def wait_for(check: Callable[[], bool], timeout_s: float = 15.0) -> float:
    """Seconds until `check()` held; fails the test after `timeout_s`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout_s}s")


def start_platform(
    data_dir: Any, *, services: list[str], env: dict[str, str], **kwargs: Any
) -> tuple[LocalPlatform, TokenMint]:
    """A platform without identity whose services accept tokens from the returned mint."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / ".seeded").touch()  # these tests make their own titles
    mint = TokenMint(data_dir)
    platform = LocalPlatform(data_dir, services=services, env={**env, **NO_LIMITS}, **kwargs)
    return platform.start(timeout_s=120), mint
