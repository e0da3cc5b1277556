"""Staying signed in to a gateway from the shell, as `gh auth login` does: `cinemesh login`
keeps the account's tokens in a file only its owner can read, and every later command
refreshes the access token with the refresh token instead of asking for the password again.

Identity rotates refresh tokens and treats a spent one as stolen (it signs out the whole
family), so a refresh is saved at once and two commands never refresh at the same time."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from cinemesh.demo.upload import error_text

CREDENTIALS_FILE = "credentials.json"
EXPIRY_MARGIN_S = 30.0  # refresh this long before the access token expires
TIMEOUT_S = 30.0


class SignInNeeded(Exception):
    """No usable sign-in for a gateway; the message says what to run."""


def config_dir() -> Path:
    """Where cinemesh keeps a user's settings: $XDG_CONFIG_HOME/cinemesh or ~/.config/cinemesh."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cinemesh"


def normal_gateway(url: str) -> str:
    return url.rstrip("/")


def new_client() -> httpx.Client:
    """The HTTP client a session uses unless given one (tests give a fake gateway's)."""
    return httpx.Client(timeout=TIMEOUT_S)


@dataclass
class SavedLogin:
    """One account's tokens for one gateway."""

    gateway: str
    email: str
    access_token: str
    refresh_token: str | None
    expires_at: float  # Unix seconds

    @classmethod
    def from_tokens(cls, gateway: str, email: str, tokens: dict[str, Any]) -> SavedLogin:
        return cls(
            gateway=normal_gateway(gateway),
            email=email,
            access_token=str(tokens["access_token"]),
            refresh_token=tokens.get("refresh_token"),
            expires_at=time.time() + float(tokens.get("expires_in", 0)),
        )

    def expiring(self) -> bool:
        return time.time() >= self.expires_at - EXPIRY_MARGIN_S


class CredentialStore:
    """The sign-ins of one user, a gateway each, in one JSON file readable by its owner only
    (0600 in a 0700 folder), replaced atomically on every change."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or config_dir()
        self.path = self.folder / CREDENTIALS_FILE

    def load(self, gateway: str) -> SavedLogin | None:
        saved = self._read().get(normal_gateway(gateway))
        return SavedLogin(**saved) if saved else None

    def save(self, login: SavedLogin) -> None:
        logins = self._read()
        logins[login.gateway] = asdict(login)
        self._write(logins)

    def forget(self, gateway: str) -> bool:
        logins = self._read()
        found = logins.pop(normal_gateway(gateway), None) is not None
        if found:
            self._write(logins)
        return found

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Held while refreshing, so two commands never spend the same refresh token."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(
            self.folder / f"{CREDENTIALS_FILE}.lock", os.O_CREAT | os.O_RDWR, 0o600
        )
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            return dict(json.loads(self.path.read_text()).get("gateways", {}))
        except (FileNotFoundError, ValueError, AttributeError):
            return {}

    def _write(self, logins: dict[str, dict[str, Any]]) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".credentials-")
        try:
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "w") as out:
                json.dump({"gateways": logins}, out, indent=2)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class GatewaySession:
    """Requests to one gateway as a signed-in account: the access token is refreshed before
    it expires and once more when the gateway refuses it; a saved login is saved again
    after each refresh. A bare token (no refresh token) is used as it is."""

    def __init__(
        self,
        login: SavedLogin,
        *,
        store: CredentialStore | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.login = login
        self.store = store
        self.http = http or new_client()

    @property
    def base(self) -> str:
        return self.login.gateway

    @classmethod
    def sign_in(
        cls,
        gateway: str,
        *,
        email: str,
        password: str,
        store: CredentialStore | None = None,
        http: httpx.Client | None = None,
    ) -> GatewaySession:
        """Sign in with a password; with a store, the tokens are kept for later commands."""
        client = http or new_client()
        answer = client.post(
            f"{normal_gateway(gateway)}/api/v1/auth/login",
            json={"email": email, "password": password},
        )
        if answer.status_code != 200:
            raise SignInNeeded(f"sign-in failed ({error_text(answer)})")
        login = SavedLogin.from_tokens(gateway, email, answer.json())
        if store is not None:
            store.save(login)
        return cls(login, store=store, http=client)

    @classmethod
    def saved(
        cls, gateway: str, *, store: CredentialStore, http: httpx.Client | None = None
    ) -> GatewaySession:
        login = store.load(gateway)
        if login is None:
            raise SignInNeeded(
                f"not signed in to {gateway}: run `cinemesh login --gateway {gateway}`"
            )
        return cls(login, store=store, http=http)

    @classmethod
    def with_token(
        cls, gateway: str, token: str, *, http: httpx.Client | None = None
    ) -> GatewaySession:
        bare = SavedLogin(normal_gateway(gateway), "", token, None, float("inf"))
        return cls(bare, http=http)

    def headers(self) -> dict[str, str]:
        if self.login.expiring():
            self.refresh()
        return {"Authorization": f"Bearer {self.login.access_token}"}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = self.http.request(method, f"{self.base}{path}", headers=self.headers(), **kwargs)
        if answer.status_code == 401 and self.login.refresh_token:
            self.refresh()
            answer = self.http.request(
                method, f"{self.base}{path}", headers=self.headers(), **kwargs
            )
        return answer

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def refresh(self) -> None:
        """Trade the refresh token for new tokens, unless another command already did."""
        if not self.login.refresh_token:
            raise SignInNeeded("the access token was refused or expired; pass a fresh one")
        if self.store is None:
            self._refresh()
            return
        with self.store.locked():
            newer = self.store.load(self.base)
            if newer and newer.refresh_token != self.login.refresh_token:
                self.login = newer  # another command refreshed meanwhile
                return
            self._refresh()
            self.store.save(self.login)

    def _refresh(self) -> None:
        answer = self.http.post(
            f"{self.base}/api/v1/auth/refresh", json={"refresh_token": self.login.refresh_token}
        )
        if answer.status_code != 200:
            raise SignInNeeded(
                f"the sign-in to {self.base} has expired ({error_text(answer)}): "
                f"run `cinemesh login --gateway {self.base}`"
            )
        self.login = SavedLogin.from_tokens(self.base, self.login.email, answer.json())

    def log_out(self) -> None:
        """Revoke the refresh token at the gateway (best effort) and forget the login."""
        if self.login.refresh_token:
            try:
                self.http.post(
                    f"{self.base}/api/v1/auth/logout",
                    json={"refresh_token": self.login.refresh_token},
                )
            except httpx.HTTPError:
                pass
        if self.store is not None:
            self.store.forget(self.base)
