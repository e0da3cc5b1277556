"""/api/v1/admin/experiments: A/B experiments for admins (define, start, stop, report), the
experiments service behind them; /api/v1/ops/experiments: the running ones for the ops page,
each with its cells, the members exposed so far per cell against what the weights promise, and
the report's headline (play starts from recommendation rows, each cell against control).

The ops view asks for each running experiment's report with a short deadline and keeps what it
got for REPORT_FRESH_S (a report reads every observation of the exposed members; the page asks
every few seconds); `available` is false while experiments does not answer."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import Field

from cinemesh.platform.bodies import RequestBody
from cinemesh.platform.errors import ApiError, error_codes
from cinemesh.services.gateway.core import Gateway, relay
from cinemesh.services.gateway.deps import AdminMember, GatewayDep

NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
Name = Annotated[str, Field(pattern=NAME)]
Key = Annotated[str, Field(pattern=NAME)]
Value = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{0,64}$")]
OPS_DEADLINE_S = 1.0
REPORT_FRESH_S = 5.0
HEADLINE = "row_play_starts"


class CellBody(RequestBody):
    name: Name
    weight: float = Field(1.0, gt=0, le=1000)
    treatments: dict[Key, Value] = Field(
        default_factory=dict,
        max_length=20,
        description="what this cell's members get, e.g. recommender.model=seq-ease",
    )


class ExperimentBody(RequestBody):
    """A draft experiment; cell names must be distinct and `control` one of them (422)."""

    name: Name
    description: str = Field("", max_length=2000, pattern=r"^[^\x00]*$")
    layer: Name = Field(..., description="experiments of one layer never share a profile")
    traffic: float = Field(1.0, gt=0, le=1, description="share of the layer's profiles")
    cells: list[CellBody] = Field(..., min_length=2, max_length=10)
    control: Name | None = Field(None, description="the baseline cell; the first by default")


def experiment_path() -> Any:
    return Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$", description="its id or name")


router = APIRouter(tags=["admin"])
ADMIN = "/api/v1/admin/experiments"
CREATE_CODES = error_codes(
    409, {"EXPERIMENT_EXISTS": "an experiment of that name exists"}
) | error_codes(
    422,
    {
        "INVALID_REQUEST": "a field breaks the schema, two cells share a name, or control "
        "names no cell"
    },
)
START_CODES = error_codes(
    409,
    {
        "NOT_A_DRAFT": "only a draft starts",
        "LAYER_FULL": "the layer has not the experiment's share of profiles free",
    },
)
STOP_CODES = error_codes(409, {"NOT_RUNNING": "only a running experiment stops"})


async def to_experiments(
    gateway: Gateway, request: Request, method: str, path: str, json: Any = None
) -> Response:
    return relay(await gateway.call("experiments", method, path, request=request, json=json))


@router.get(ADMIN)
async def list_experiments(request: Request, gateway: GatewayDep, _admin: AdminMember) -> Response:
    """Every experiment: drafts, running and stopped, oldest first."""
    return await to_experiments(gateway, request, "GET", "/v1/experiments")


@router.post(ADMIN, status_code=201, responses=CREATE_CODES)
async def create_experiment(
    body: ExperimentBody, request: Request, gateway: GatewayDep, _admin: AdminMember
) -> Response:
    """A draft: nobody is allocated until it starts."""
    return await to_experiments(gateway, request, "POST", "/v1/experiments", body.model_dump())


@router.get(ADMIN + "/{experiment}")
async def get_experiment(
    request: Request, gateway: GatewayDep, _admin: AdminMember, experiment: str = experiment_path()
) -> Response:
    return await to_experiments(gateway, request, "GET", f"/v1/experiments/{experiment}")


@router.post(ADMIN + "/{experiment}/start", responses=START_CODES)
async def start_experiment(
    request: Request, gateway: GatewayDep, _admin: AdminMember, experiment: str = experiment_path()
) -> Response:
    """Allocate profiles to its cells from now on."""
    return await to_experiments(gateway, request, "POST", f"/v1/experiments/{experiment}/start")


@router.post(ADMIN + "/{experiment}/stop", responses=STOP_CODES)
async def stop_experiment(
    request: Request, gateway: GatewayDep, _admin: AdminMember, experiment: str = experiment_path()
) -> Response:
    """Everyone gets control again; the report keeps what was measured."""
    return await to_experiments(gateway, request, "POST", f"/v1/experiments/{experiment}/stop")


@router.get(ADMIN + "/{experiment}/report")
async def report_experiment(
    request: Request, gateway: GatewayDep, _admin: AdminMember, experiment: str = experiment_path()
) -> Response:
    """Each metric per cell against control: difference, 95% CI, p-value (Welch's t-test),
    and a warning on sample-ratio mismatch."""
    return await to_experiments(gateway, request, "GET", f"/v1/experiments/{experiment}/report")


# --- the ops page ------------------------------------------------------------------------------
_reports: dict[str, tuple[float, dict[str, Any]]] = {}  # experiment id -> (when, report)


@router.get("/api/v1/ops/experiments", tags=["ops"])
async def ops_experiments(gateway: GatewayDep) -> dict[str, Any]:
    """The running experiments, their cells filling up and the report's headline."""
    try:
        listed = await gateway.call(
            "experiments", "GET", "/v1/experiments", timeout_s=OPS_DEADLINE_S, idempotent=True
        )
    except ApiError:
        return {"available": False, "experiments": []}
    if listed.status != 200:
        return {"available": False, "experiments": []}
    running = [e for e in listed.json() if e.get("status") == "running"]
    reports = await asyncio.gather(*(report_of(gateway, str(e["id"])) for e in running))
    return {
        "available": True,
        "experiments": [summary(e, r) for e, r in zip(running, reports, strict=True)],
    }


async def report_of(gateway: Gateway, experiment_id: str) -> dict[str, Any] | None:
    kept = _reports.get(experiment_id)
    if kept is not None and time.monotonic() - kept[0] < REPORT_FRESH_S:
        return kept[1]
    try:
        answer = await gateway.call(
            "experiments",
            "GET",
            f"/v1/experiments/{experiment_id}/report",
            timeout_s=OPS_DEADLINE_S,
            idempotent=True,
        )
    except ApiError:
        return kept[1] if kept else None
    if answer.status != 200:
        return kept[1] if kept else None
    report: dict[str, Any] = answer.json()
    _reports[experiment_id] = (time.monotonic(), report)
    return report


def summary(experiment: dict[str, Any], report: dict[str, Any] | None) -> dict[str, Any]:
    """One running experiment as the ops page shows it (report None: not to be had now)."""
    ratio = (report or {}).get("sample_ratio") or {}
    expected, observed = ratio.get("expected") or {}, ratio.get("observed") or {}
    cells = [
        {
            "name": cell["name"],
            "weight": cell["weight"],
            "treatments": cell.get("treatments", {}),
            "control": cell["name"] == experiment["control"],
            "exposed": observed.get(cell["name"], 0),
            "expected": expected.get(cell["name"]),
        }
        for cell in experiment["cells"]
    ]
    return {
        "id": experiment["id"],
        "name": experiment["name"],
        "description": experiment.get("description", ""),
        "layer": experiment["layer"],
        "traffic": experiment["traffic"],
        "started_at": experiment.get("started_at"),
        "cells": cells,
        "exposed": sum(c["exposed"] for c in cells),
        "headline": headline(report),
        "warnings": list((report or {}).get("warnings", [])),
        "report_available": report is not None,
    }


def headline(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """Play starts from recommendation rows per member: each cell's mean, and each challenger's
    lift over control with its CI and p-value."""
    metrics = (report or {}).get("metrics") or []
    found = next((m for m in metrics if m.get("name") == HEADLINE), None)
    if found is None:
        return None
    return {
        "metric": found["name"],
        "description": found.get("description", ""),
        "test": (report or {}).get("test"),
        "cells": {
            name: {
                key: cell.get(key)
                for key in ("members", "mean", "difference", "ci", "p_value", "lift")
                if key in cell
            }
            for name, cell in found.get("cells", {}).items()
        },
    }
