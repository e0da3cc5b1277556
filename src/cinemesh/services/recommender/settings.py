"""recommender's settings, from `CINEMESH_RECOMMENDER_*`: how often to retrain and poll for
other instances' snapshots, and the model's parameters (collaborative.py)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings
from cinemesh.services.recommender.collaborative import ModelParams


class RecommenderSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_RECOMMENDER_", extra="ignore")

    retrain_interval_s: float = 60.0
    poll_s: float = 2.0
    lam: float = ModelParams.lam
    half_life: float = ModelParams.half_life
    neighbours: int = ModelParams.neighbours
