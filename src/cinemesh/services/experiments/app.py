"""experiments: A/B tests of what members are shown. An experiment has cells with weights and
each cell's overrides (`treatments`, e.g. `recommender.model=seq-ease`); a profile is
allocated by hashing (allocation.py): deterministic, sticky over restarts and instances,
never in two experiments of one layer. The gateway asks `GET /v1/allocations` with a short
deadline (control when this service is away), passes the overrides on in a header and logs an
exposure when it showed them. Play starts and QoE come from `playback.*` and `telemetry.*`
events; `GET /v1/experiments/{id}/report` compares every cell with control (analysis.py).

On first start the demo experiment is made and started: the current recommender against the
seq-ease challenger (demo.py)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.experiments.api import router
from cinemesh.services.experiments.demo import start_demo_experiment
from cinemesh.services.experiments.events import consume_events
from cinemesh.services.experiments.service import Experiments
from cinemesh.services.experiments.settings import ExperimentsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app() -> FastAPI:
    settings = load_settings(ExperimentsSettings)
    runtime = ServiceRuntime(
        "experiments", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    experiments = Experiments(runtime.database, designs_s=settings.designs_s, stage=runtime.stage)
    consume_events(runtime, experiments)
    if settings.demo:
        runtime.on_startup(lambda: start_demo_experiment(runtime.database, experiments))
    return runtime.build_app(router, provides=[experiments])
