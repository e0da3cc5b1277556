"""The experiment the demo runs out of the box: recommendations from the current model
(control) against seq-ease, recency-EASE blended with a sequence-aware term
(recommender/sequence.py), half the profiles each."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cinemesh.platform.db import Database
from cinemesh.platform.errors import ApiError
from cinemesh.platform.observability import logger
from cinemesh.services.experiments.models import StoredExperiment
from cinemesh.services.experiments.schemas import CellSpec, ExperimentCreate
from cinemesh.services.experiments.service import Experiments

log = logger("cinemesh.experiments")
DEMO = ExperimentCreate(
    name="recs-seq-ease",
    description="Home rows from recency-EASE (control) against seq-ease (challenger)",
    layer="recommender",
    traffic=1.0,
    cells=[
        CellSpec(name="control", weight=1, treatments={"recommender.model": "recency-ease"}),
        CellSpec(name="seq-ease", weight=1, treatments={"recommender.model": "seq-ease"}),
    ],
    control="control",
)


async def start_demo_experiment(database: Database, experiments: Experiments) -> None:
    """Make and start the demo experiment once, when no experiment was ever made."""
    try:
        async with database.transaction() as session:
            if await session.scalar(select(StoredExperiment.id).limit(1)) is not None:
                return
            await experiments.create(session, DEMO)
        async with database.transaction() as session:
            await experiments.start(session, DEMO.name)
    except (IntegrityError, ApiError):  # another instance did it at the same moment
        return
    log.info("started the demo experiment", experiment=DEMO.name)
