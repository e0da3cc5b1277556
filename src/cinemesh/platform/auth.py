"""Who is calling: a service credential between services, and users' JWTs verified locally
against the identity service's published JWKS."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson
from fastapi import Request

from cinemesh.platform.errors import ApiError, unauthorized
from cinemesh.platform.observability import logger
from cinemesh.platform.secrets import read_or_create_secret, secrets_dir

log = logger("cinemesh.auth")

SERVICE_TOKEN_HEADER = "X-Cinemesh-Service-Token"
SERVICE_NAME_HEADER = "X-Cinemesh-Service"
JWT_ISSUER = "cinemesh-identity"
JWT_AUDIENCE = "cinemesh"
JWT_ALGORITHMS = ["EdDSA", "ES256"]
JWKS_REFRESH_MIN_S = 30.0
VERIFIED_TOKENS_KEPT = 20_000


def load_service_key(*, data_dir: Path, configured: str) -> bytes:
    if configured:
        return configured.encode()
    return read_or_create_secret(secrets_dir(data_dir) / "service.key")


def service_token(key: bytes) -> str:
    return hmac.new(key, b"cinemesh-service-v1", hashlib.sha256).hexdigest()


def is_service_token(presented: str, expected: str) -> bool:
    """Compared in constant time, so the answer's timing tells nothing of the credential."""
    return hmac.compare_digest(presented.encode(), expected.encode())


@dataclass(frozen=True)
class Principal:
    """A signed-in account, as its access token says."""

    account_id: str
    role: str
    plan: str
    email: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class TokenVerifier:
    """Verifies access tokens with cached public keys, so identity may be down meanwhile."""

    def __init__(self, *, fetch_jwks: Any, jwks_file: Path | None = None) -> None:
        self._fetch_jwks = fetch_jwks
        self._jwks_file = jwks_file
        self._keys: dict[str, Any] = {}
        self._last_refresh = 0.0
        self._verified: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """The token's account. A token already verified is not checked again until it
        expires: one page view presents it to several services, and the check is costly."""
        seen = self._verified.get(token)
        if seen is not None:
            expires_at, principal = seen
            if time.time() < expires_at:
                return principal
            del self._verified[token]
            raise token_expired()
        principal, expires_at = await self._check(token)
        self._verified[token] = (expires_at, principal)
        if len(self._verified) > VERIFIED_TOKENS_KEPT:
            self._verified.popitem(last=False)
        return principal

    async def _check(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise unauthorized("the access token is malformed") from None
        alg = header.get("alg")
        if alg not in JWT_ALGORITHMS:
            raise unauthorized("the access token's algorithm is not accepted")
        key = await self._key(str(header.get("kid", "")))
        if key is None:
            raise unauthorized("the access token was signed by an unknown key")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=JWT_AUDIENCE,
                issuer=JWT_ISSUER,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise token_expired() from None
        except jwt.PyJWTError:
            raise unauthorized("the access token is not valid") from None
        if claims.get("typ") != "access":
            raise unauthorized("that token is not an access token")
        principal = Principal(
            account_id=str(claims["sub"]),
            role=str(claims.get("role", "member")),
            plan=str(claims.get("plan", "basic")),
            email=str(claims.get("email", "")),
        )
        return principal, float(claims["exp"])

    async def _key(self, kid: str) -> Any:
        if kid in self._keys:
            return self._keys[kid]
        if time.monotonic() - self._last_refresh >= JWKS_REFRESH_MIN_S or not self._keys:
            await self.refresh()
        return self._keys.get(kid)

    async def refresh(self) -> None:
        self._last_refresh = time.monotonic()
        jwks = None
        try:
            jwks = await self._fetch_jwks()
        except Exception as exc:
            log.info("JWKS fetch failed, using the cached keys", error=str(exc))
        if jwks is None and self._jwks_file and self._jwks_file.exists():
            jwks = orjson.loads(self._jwks_file.read_bytes())
        if jwks:
            for entry in jwks.get("keys", []):
                try:
                    self._keys[entry["kid"]] = jwt.PyJWK(entry).key
                except (jwt.PyJWTError, KeyError):
                    log.warning("skipping an unusable JWKS entry")


def token_expired() -> ApiError:
    return ApiError(
        401,
        "TOKEN_EXPIRED",
        "the access token has expired; refresh it",
        headers={"WWW-Authenticate": "Bearer"},
    )


def bearer_token(request: Request) -> str:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized()
    return token.strip()
