"""identity: accounts, sign-in, rotating refresh tokens, and the keys that sign access tokens."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.secrets import secrets_dir
from cinemesh.platform.settings import ServiceSettings, load_settings
from cinemesh.services.identity.api import identity_router
from cinemesh.services.identity.keys import SigningKey
from cinemesh.services.identity.service import Identity
from cinemesh.services.identity.throttle import SignInThrottle, address_limit, email_limit

MIGRATIONS = Path(__file__).parent / "migrations"


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_IDENTITY_", extra="ignore")

    signing_key_pem: str = Field(default="", repr=False)
    access_ttl_s: int = Field(default=15 * 60, ge=30, le=3600)
    attempts_per_email: int = Field(default=5, ge=1)
    email_window_s: int = Field(default=15 * 60, ge=1)
    attempts_per_address: int = Field(default=30, ge=1)
    address_window_s: int = Field(default=10 * 60, ge=1)


def create_app() -> FastAPI:
    settings = load_settings(IdentitySettings)
    runtime = ServiceRuntime(
        "identity", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    key = SigningKey.load_or_create(
        secrets=secrets_dir(runtime.data_dir), configured_pem=settings.signing_key_pem
    )
    key.publish(runtime.data_dir / "identity" / "jwks.json")
    assert runtime.db is not None
    throttle = SignInThrottle(
        runtime.db,
        per_email=email_limit(settings.attempts_per_email, settings.email_window_s),
        per_address=address_limit(settings.attempts_per_address, settings.address_window_s),
    )
    identity = Identity(
        db=runtime.db,
        key=key,
        stage=runtime.stage,
        throttle=throttle,
        access_ttl_s=settings.access_ttl_s,
    )
    return runtime.build_app(identity_router(runtime, identity))
