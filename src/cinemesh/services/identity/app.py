"""identity: accounts, sign-in, rotating refresh tokens, and the keys that sign access tokens."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.secrets import secrets_dir
from cinemesh.platform.settings import load_settings
from cinemesh.services.identity.api import router
from cinemesh.services.identity.keys import SigningKey
from cinemesh.services.identity.service import Identity
from cinemesh.services.identity.settings import IdentitySettings
from cinemesh.services.identity.throttle import SignInThrottle, address_limit, email_limit

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app() -> FastAPI:
    settings = load_settings(IdentitySettings)
    runtime = ServiceRuntime(
        "identity", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    key = SigningKey.load_or_create(
        secrets=secrets_dir(runtime.data_dir), configured_pem=settings.signing_key_pem
    )
    key.publish(runtime.data_dir / "identity" / "jwks.json")
    throttle = SignInThrottle(
        runtime.database,
        per_email=email_limit(settings.attempts_per_email, settings.email_window_s),
        per_address=address_limit(settings.attempts_per_address, settings.address_window_s),
    )
    identity = Identity(
        db=runtime.database,
        key=key,
        stage=runtime.stage,
        throttle=throttle,
        access_ttl_s=settings.access_ttl_s,
    )
    return runtime.build_app(router, provides=[identity])
