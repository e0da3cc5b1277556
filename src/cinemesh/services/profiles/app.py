"""profiles: who is watching (up to five profiles an account), My List and thumbs."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cinemesh.contracts.notices import MY_LIST_CHANGED
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.profiles.api import router
from cinemesh.services.profiles.service import Profiles
from cinemesh.services.profiles.settings import ProfilesSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app() -> FastAPI:
    settings = load_settings(ProfilesSettings)
    runtime = ServiceRuntime(
        "profiles", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    profiles = Profiles(stage=runtime.stage)
    lists = runtime.kept_reads(MY_LIST_CHANGED, max_age_s=settings.kept_reads_s)
    return runtime.build_app(router, provides=[profiles, lists])
