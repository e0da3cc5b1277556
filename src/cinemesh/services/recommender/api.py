"""The recommender's routes (internal, service credential required); see app.py for the API."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Response
from fastapi import Path as PathParam

from cinemesh.contracts.maturity import ADULT_MAX, RATINGS
from cinemesh.contracts.treatments import treatment
from cinemesh.platform.deps import Db, provided
from cinemesh.platform.errors import ApiError
from cinemesh.platform.treatments import TREATMENTS_HEADER
from cinemesh.services.recommender.rows import build_rows
from cinemesh.services.recommender.sequence import Challengers
from cinemesh.services.recommender.service import Histories, interaction_view
from cinemesh.services.recommender.training import ModelKeeper

ProfileId = Query(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
Maturity = Query(None, description="the profile's maturity limit: " + ", ".join(RATINGS))
Limit = Query(20, ge=1, le=100)

Keeper = Annotated[ModelKeeper, provided(ModelKeeper)]
HistoriesDep = Annotated[Histories, provided(Histories)]
ChallengersDep = Annotated[Challengers, provided(Challengers)]
# the experiment cell's overrides, set by the gateway from experiments' allocation:
# `recommender.model=seq-ease;other.key=value`
Treatments = Header(None, alias=TREATMENTS_HEADER, max_length=1000)
router = APIRouter(prefix="/v1")


def not_ready() -> ApiError:
    return ApiError(503, "MODEL_NOT_READY", "the first model is still training")


# Answered as JSON bytes made here: FastAPI's check and encoding of a returned dict cost
# about 0.4 ms a request (measured over HTTP, 4.0 -> 2.4 ms of CPU with the history cache).
@router.get("/rows", response_class=Response)
async def rows(
    keeper: Keeper,
    histories: HistoriesDep,
    challengers: ChallengersDep,
    profile_id: str = ProfileId,
    maturity: str | None = Maturity,
    limit: int = Limit,
    treatments: str | None = Treatments,
) -> Response:
    if maturity is not None and maturity not in RATINGS:
        raise ApiError(422, "INVALID_REQUEST", f"maturity must be one of {', '.join(RATINGS)}")
    snapshot = keeper.current
    if snapshot is None:
        raise not_ready()
    asked = treatment(treatments, "recommender.model")
    snapshot, model_name = challengers.serve(snapshot, asked)
    history = await histories.of(profile_id)
    limit_to = maturity or history.maturity or ADULT_MAX
    body = orjson.dumps(
        {
            "profile_id": profile_id,
            "maturity": limit_to,
            "model": {
                "name": model_name,
                "asked": asked,  # the experiment cell's model, None outside experiments
                "version": snapshot.version,
                "trained_at": snapshot.trained_at,
            },
            "rows": build_rows(snapshot, history, maturity=limit_to, limit=limit),
        }
    )
    return Response(body, media_type="application/json")


@router.post("/retrain")
async def retrain(keeper: Keeper) -> dict[str, Any]:
    return await keeper.retrain(force=True)


@router.get("/model")
async def model(keeper: Keeper) -> dict[str, Any]:
    if keeper.current is None:
        raise not_ready()
    return keeper.current.describe()


@router.get("/profiles/{profile_id}/interactions")
async def interactions(
    db: Db, profile_id: str = PathParam(min_length=1, max_length=64)
) -> dict[str, Any]:
    async with db.session() as session:
        return {"profile_id": profile_id, "items": await interaction_view(session, profile_id)}
