"""experiments' internal API (`/v1`, the service credential required): definitions and their
life for operators (`cinemesh experiments`, the gateway's admin routes), allocation and
exposures for the services that show a cell's experience, and the report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from sqlalchemy.exc import IntegrityError

from cinemesh.platform.deps import Db, provided
from cinemesh.platform.errors import conflict
from cinemesh.services.experiments.schemas import (
    Allocations,
    ExperimentCreate,
    ExperimentView,
    ExposureIn,
    ExposuresTaken,
)
from cinemesh.services.experiments.service import Experiments, view

ExperimentsDep = Annotated[Experiments, provided(Experiments)]
Named = PathParam(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.-]+$")
ProfileId = Query(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
router = APIRouter(prefix="/v1")


@router.post("/experiments", status_code=201, response_model=ExperimentView)
async def create(body: ExperimentCreate, db: Db, experiments: ExperimentsDep) -> ExperimentView:
    """A draft: nobody is allocated until it starts. 409 EXPERIMENT_EXISTS."""
    try:
        async with db.transaction() as session:
            row = await experiments.create(session, body)
            return view(row)
    except IntegrityError:  # another instance made one of that name a moment ago
        raise conflict("EXPERIMENT_EXISTS", f"an experiment named {body.name!r} exists") from None


@router.get("/experiments", response_model=list[ExperimentView])
async def get_all(db: Db, experiments: ExperimentsDep) -> list[ExperimentView]:
    async with db.session() as session:
        return [view(row) for row in await experiments.get_all(session)]


@router.get("/experiments/{experiment}", response_model=ExperimentView)
async def get(db: Db, experiments: ExperimentsDep, experiment: str = Named) -> ExperimentView:
    """By id or name."""
    async with db.session() as session:
        return view(await experiments.get(session, experiment))


@router.post("/experiments/{experiment}/start", response_model=ExperimentView)
async def start(db: Db, experiments: ExperimentsDep, experiment: str = Named) -> ExperimentView:
    """409 NOT_A_DRAFT, 409 LAYER_FULL."""
    async with db.transaction() as session:
        return view(await experiments.start(session, experiment))


@router.post("/experiments/{experiment}/stop", response_model=ExperimentView)
async def stop(db: Db, experiments: ExperimentsDep, experiment: str = Named) -> ExperimentView:
    """Nobody is allocated any more; the report keeps what was measured. 409 NOT_RUNNING."""
    async with db.transaction() as session:
        return view(await experiments.stop(session, experiment))


@router.get("/experiments/{experiment}/report")
async def report(db: Db, experiments: ExperimentsDep, experiment: str = Named) -> dict[str, Any]:
    async with db.session() as session:
        return await experiments.report(session, experiment)


@router.get("/allocations", response_model=Allocations)
async def allocations(experiments: ExperimentsDep, profile_id: str = ProfileId) -> Allocations:
    """The profile's cell in every running experiment that includes it (no database read)."""
    return await experiments.allocations(profile_id)


@router.post("/exposures", response_model=ExposuresTaken)
async def expose(body: ExposureIn, db: Db, experiments: ExperimentsDep) -> ExposuresTaken:
    """The profile was just shown its cells' experience (with `shown`, the titles recommended)."""
    for attempt in (1, 2):
        try:
            async with db.transaction() as session:
                logged = await experiments.expose(
                    session,
                    profile_id=body.profile_id,
                    experiment_ids=body.experiment_ids,
                    shown=body.shown,
                )
            return ExposuresTaken(logged=logged)
        except IntegrityError:  # the first exposure logged twice at once: update it now
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
