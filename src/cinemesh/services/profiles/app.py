"""profiles: who is watching (up to five profiles an account), My List and thumbs."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import ServiceSettings, load_settings
from cinemesh.services.profiles.api import profiles_router
from cinemesh.services.profiles.service import Profiles

MIGRATIONS = Path(__file__).parent / "migrations"


class ProfilesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_PROFILES_", extra="ignore")


def create_app() -> FastAPI:
    settings = load_settings(ProfilesSettings)
    runtime = ServiceRuntime(
        "profiles", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    profiles = Profiles(stage=runtime.stage)
    return runtime.build_app(profiles_router(runtime, profiles, kept_reads_s=settings.kept_reads_s))
