"""`cinemesh login` and the kept sign-in, against a fake gateway that rotates refresh tokens
the way identity does (a spent one is refused)."""

from __future__ import annotations

import json
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cinemesh.cli import sign_in
from cinemesh.cli.main import app
from cinemesh.cli.sign_in import CredentialStore, GatewaySession, SavedLogin, SignInNeeded

GATEWAY = "http://gateway.test"
EMAIL = "boss@example.com"
PASSWORD = "Correct-horse-42"


@dataclass
class FakeGateway:
    """Login, refresh (each refresh token works once), logout, and one admin page."""

    live_access: set[str] = field(default_factory=set)
    live_refresh: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    issued: int = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        body = json.loads(request.content or b"{}")
        if request.url.path == "/api/v1/auth/login":
            if body != {"email": EMAIL, "password": PASSWORD}:
                return refused("INVALID_CREDENTIALS")
            return self.tokens()
        if request.url.path == "/api/v1/auth/refresh":
            if body.get("refresh_token") not in self.live_refresh:
                return refused("INVALID_REFRESH_TOKEN")
            self.live_refresh.discard(body["refresh_token"])
            return self.tokens()
        if request.url.path == "/api/v1/auth/logout":
            self.live_refresh.discard(body.get("refresh_token"))
            return httpx.Response(204)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.live_access:
            return refused("UNAUTHORIZED")
        if request.url.path == "/api/v1/auth/me":
            return httpx.Response(200, json={"email": EMAIL, "role": "admin"})
        return httpx.Response(200, json={"job_id": "j1", "state": "ready"})

    def tokens(self) -> httpx.Response:
        self.issued += 1
        access, refresh = f"access-{self.issued}", f"refresh-{self.issued}-0123456789"
        self.live_access.add(access)
        self.live_refresh.add(refresh)
        body = {"access_token": access, "refresh_token": refresh, "expires_in": 900}
        return httpx.Response(200, json={**body, "token_type": "bearer"})

    def expire_access_tokens(self) -> None:
        self.live_access.clear()


def refused(code: str) -> httpx.Response:
    return httpx.Response(401, json={"error": {"code": code, "message": "no"}})


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> FakeGateway:
    fake = FakeGateway()
    transport = httpx.MockTransport(fake.handle)
    monkeypatch.setattr(sign_in, "new_client", lambda: httpx.Client(transport=transport))
    return fake


@pytest.fixture
def config_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "cinemesh"


def log_in(*extra: str) -> object:
    args = ["login", "--gateway", GATEWAY, "--email", EMAIL, "--password-stdin", *extra]
    return CliRunner().invoke(app, args, input=f"{PASSWORD}\n")


def test_login_keeps_the_tokens_in_a_file_only_its_owner_can_read(
    gateway: FakeGateway, config_home: Path
) -> None:
    done = log_in()
    assert done.exit_code == 0, done.output
    assert "signed in to http://gateway.test as boss@example.com (admin)" in done.output
    kept = config_home / "credentials.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_home.stat().st_mode) == 0o700
    saved = json.loads(kept.read_text())["gateways"][GATEWAY]
    assert saved["access_token"] in gateway.live_access and PASSWORD not in kept.read_text()


def test_the_password_is_asked_without_echo_when_not_piped(
    gateway: FakeGateway, config_home: Path
) -> None:
    args = ["login", "--gateway", GATEWAY]
    done = CliRunner().invoke(app, args, input=f"{EMAIL}\n{PASSWORD}\n")
    assert done.exit_code == 0, done.output
    assert PASSWORD not in done.output and "Password" in done.output


def test_a_wrong_password_keeps_nothing(gateway: FakeGateway, config_home: Path) -> None:
    done = CliRunner().invoke(
        app, ["login", "--gateway", GATEWAY, "--email", EMAIL, "--password-stdin"], input="no\n"
    )
    assert done.exit_code == 1 and "INVALID_CREDENTIALS" in done.output
    assert not (config_home / "credentials.json").exists()


def test_an_expired_access_token_is_refreshed_and_the_new_tokens_kept(
    gateway: FakeGateway, config_home: Path
) -> None:
    assert log_in().exit_code == 0
    store = CredentialStore()
    first = store.load(GATEWAY)
    assert first is not None
    store.save(SavedLogin(**{**first.__dict__, "expires_at": time.time() - 1}))

    answer = GatewaySession.saved(GATEWAY, store=store).get("/api/v1/admin/jobs/j1")
    assert answer.status_code == 200
    assert gateway.calls[-2:] == ["/api/v1/auth/refresh", "/api/v1/admin/jobs/j1"]
    kept = store.load(GATEWAY)
    assert kept is not None and kept.refresh_token != first.refresh_token
    assert kept.refresh_token in gateway.live_refresh and kept.expires_at > time.time() + 800


def test_a_refused_access_token_is_refreshed_once_and_the_call_repeated(
    gateway: FakeGateway, config_home: Path
) -> None:
    assert log_in().exit_code == 0
    gateway.expire_access_tokens()  # say, identity's signing key rotated
    answer = GatewaySession.saved(GATEWAY, store=CredentialStore()).get("/api/v1/admin/jobs/j1")
    assert answer.status_code == 200
    assert gateway.calls[-3:] == [
        "/api/v1/admin/jobs/j1",
        "/api/v1/auth/refresh",
        "/api/v1/admin/jobs/j1",
    ]


def test_a_refresh_another_command_made_meanwhile_is_taken_not_repeated(
    gateway: FakeGateway, config_home: Path
) -> None:
    assert log_in().exit_code == 0
    store = CredentialStore()
    slow, quick = (GatewaySession.saved(GATEWAY, store=store) for _ in range(2))
    quick.refresh()
    slow.refresh()  # its refresh token is spent: identity would sign out the whole family
    assert gateway.calls.count("/api/v1/auth/refresh") == 1
    assert slow.login == quick.login


def test_a_sign_in_that_cannot_be_refreshed_asks_for_cinemesh_login(
    gateway: FakeGateway, config_home: Path
) -> None:
    assert log_in().exit_code == 0
    gateway.expire_access_tokens()
    gateway.live_refresh.clear()
    with pytest.raises(SignInNeeded, match=re.escape(f"cinemesh login --gateway {GATEWAY}")):
        GatewaySession.saved(GATEWAY, store=CredentialStore()).get("/api/v1/admin/jobs/j1")


def test_ingest_against_a_remote_gateway_without_a_login_asks_for_one(
    gateway: FakeGateway, config_home: Path, tmp_path: Path
) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"not played")
    done = CliRunner().invoke(app, ["ingest", str(video), "--title", "t1", "--gateway", GATEWAY])
    assert done.exit_code == 1
    assert "cinemesh login --gateway http://gateway.test" in done.output.replace("\n", "")
    assert gateway.calls == []


def test_logout_revokes_the_refresh_token_and_forgets_the_login(
    gateway: FakeGateway, config_home: Path
) -> None:
    assert log_in().exit_code == 0
    done = CliRunner().invoke(app, ["logout", "--gateway", GATEWAY])
    assert done.exit_code == 0 and "signed out" in done.output
    assert gateway.live_refresh == set() and CredentialStore().load(GATEWAY) is None
