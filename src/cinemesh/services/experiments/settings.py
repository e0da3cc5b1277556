"""experiments' settings, from `CINEMESH_EXPERIMENTS_*`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings


class ExperimentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_EXPERIMENTS_", extra="ignore")

    # an instance re-reads the running experiments this often (a start or stop elsewhere is
    # seen within it); allocation itself needs no database read
    designs_s: float = Field(2.0, ge=0.1, le=300)
    # the demo's experiment (recency-ease against seq-ease), made and started on first run
    demo: bool = True
