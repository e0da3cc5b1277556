"""The experiments domain: definitions and their life (draft -> running -> stopped), allocation
of a profile to cells (allocation.py, from the running experiments an instance keeps for a
couple of seconds), exposures logged when a cell's experience is shown, observations of what
exposed profiles did (from events), and the report (analysis.py)."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts import rows
from cinemesh.contracts.experiments import ExperimentCell, ExperimentStarted, ExperimentStopped
from cinemesh.contracts.treatments import encode
from cinemesh.platform.db import Database
from cinemesh.platform.errors import conflict, not_found
from cinemesh.services.experiments import analysis
from cinemesh.services.experiments.allocation import BUCKETS, Cell, Design, free_range
from cinemesh.services.experiments.models import Exposure, Observation, StoredExperiment
from cinemesh.services.experiments.schemas import (
    Allocation,
    Allocations,
    CellSpec,
    ExperimentCreate,
    ExperimentView,
)

Stage = Callable[..., Awaitable[Any]]
SHOWN_KEPT = 200
IN_CHUNKS = 500

EXPOSURES = Counter(
    "cinemesh_experiments_exposures_total", "Exposures logged, by experiment and cell", ["cell"]
)


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


@dataclass(frozen=True)
class Running:
    """A running experiment as allocation reads it."""

    id: str
    name: str
    design: Design
    treatments: dict[str, dict[str, str]]

    @classmethod
    def of(cls, row: StoredExperiment) -> Running:
        cells = [CellSpec.model_validate(c) for c in row.cells]
        return cls(
            row.id,
            row.name,
            Design(
                row.id,
                row.salt,
                row.layer,
                row.first_bucket,
                row.end_bucket,
                tuple(Cell(c.name, c.weight) for c in cells),
            ),
            {c.name: dict(c.treatments) for c in cells},
        )


def view(row: StoredExperiment) -> ExperimentView:
    return ExperimentView(
        id=row.id,
        name=row.name,
        description=row.description,
        layer=row.layer,
        traffic=row.traffic,
        cells=[CellSpec.model_validate(c) for c in row.cells],
        control=row.control,
        status=row.status,
        buckets=[row.first_bucket, row.end_bucket],
        created_at=iso(row.created_ms) or "",
        started_at=iso(row.started_ms),
        stopped_at=iso(row.stopped_ms),
    )


def allocate(running: Iterable[Running], profile_id: str) -> Allocations:
    """The profile's cell in every running experiment it is in, and their overrides."""
    found: list[Allocation] = []
    for experiment in running:
        cell = experiment.design.cell_of(profile_id)
        if cell is not None:
            found.append(
                Allocation(
                    experiment_id=experiment.id,
                    experiment=experiment.name,
                    cell=cell,
                    treatments=experiment.treatments[cell],
                )
            )
    merged = {k: v for a in found for k, v in a.treatments.items()}
    return Allocations(
        profile_id=profile_id,
        allocations=found,
        treatments=encode(merged),
    )


@dataclass
class Experiments:
    database: Database
    designs_s: float = 2.0
    stage: Stage | None = None  # the runtime's: `experiments.*` events in the caller's transaction
    _running: tuple[float, list[Running]] = field(default=(-1e9, []), repr=False)

    # --- definitions -------------------------------------------------------------------------
    async def create(self, session: AsyncSession, body: ExperimentCreate) -> StoredExperiment:
        taken = await session.scalar(
            select(StoredExperiment.id).where(StoredExperiment.name == body.name)
        )
        if taken is not None:
            raise conflict("EXPERIMENT_EXISTS", f"an experiment named {body.name!r} exists")
        row = StoredExperiment(
            id=uuid.uuid4().hex,
            name=body.name,
            description=body.description,
            layer=body.layer,
            salt=uuid.uuid4().hex[:16],
            traffic=body.traffic,
            cells=[c.model_dump() for c in body.cells],
            control=body.control or body.cells[0].name,
            status="draft",
            first_bucket=0,
            end_bucket=0,
            created_ms=now_ms(),
        )
        session.add(row)
        return row

    async def get(self, session: AsyncSession, experiment: str) -> StoredExperiment:
        """By id or by name."""
        row = await session.get(StoredExperiment, experiment)
        if row is None:
            row = await session.scalar(
                select(StoredExperiment).where(StoredExperiment.name == experiment)
            )
        if row is None:
            raise not_found("experiment")
        return row

    async def get_all(self, session: AsyncSession) -> list[StoredExperiment]:
        rows = await session.scalars(select(StoredExperiment).order_by(StoredExperiment.created_ms))
        return list(rows)

    async def start(self, session: AsyncSession, experiment: str) -> StoredExperiment:
        """Give a draft the first free range of its layer's buckets and run it."""
        row = await self.get(session, experiment)
        if row.status != "draft":
            raise conflict("NOT_A_DRAFT", f"the experiment is {row.status}; only a draft starts")
        others = await session.scalars(
            select(StoredExperiment).where(
                StoredExperiment.layer == row.layer, StoredExperiment.status == "running"
            )
        )
        size = max(1, round(row.traffic * BUCKETS))
        found = free_range([(o.first_bucket, o.end_bucket) for o in others], size=size)
        if found is None:
            raise conflict(
                "LAYER_FULL",
                f"layer {row.layer!r} has no {row.traffic:.0%} of its profiles free; stop an "
                "experiment of the layer or ask for less traffic",
            )
        # a compare-and-set on the status: two instances starting it at once start it once
        changed = await session.execute(
            update(StoredExperiment)
            .where(StoredExperiment.id == row.id, StoredExperiment.status == "draft")
            .values(
                status="running",
                first_bucket=found[0],
                end_bucket=found[1],
                started_ms=now_ms(),
            )
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise conflict("NOT_A_DRAFT", "the experiment was started a moment ago")
        await session.refresh(row)
        self.forget_running()
        started = ExperimentStarted(
            experiment_id=row.id,
            name=row.name,
            layer=row.layer,
            traffic=row.traffic,
            control=row.control,
            cells=[ExperimentCell.model_validate(c) for c in row.cells],
            buckets=[row.first_bucket, row.end_bucket],
            at=iso(row.started_ms) or "",
        )
        await self._announce(session, started, key=row.id)
        return row

    async def stop(self, session: AsyncSession, experiment: str) -> StoredExperiment:
        row = await self.get(session, experiment)
        if row.status != "running":
            raise conflict(
                "NOT_RUNNING", f"the experiment is {row.status}; only a running one stops"
            )
        row.status = "stopped"
        row.stopped_ms = now_ms()
        self.forget_running()
        stopped = ExperimentStopped(
            experiment_id=row.id, name=row.name, layer=row.layer, at=iso(row.stopped_ms) or ""
        )
        await self._announce(session, stopped, key=row.id)
        return row

    async def _announce(
        self, session: AsyncSession, event: ExperimentStarted | ExperimentStopped, *, key: str
    ) -> None:
        if self.stage is not None:
            await self.stage(session, event.TYPE, event.model_dump(mode="json"), key=key)

    # --- allocation ---------------------------------------------------------------------------
    def forget_running(self) -> None:
        self._running = (-1e9, [])

    async def running(self) -> list[Running]:
        """The running experiments, read again when older than `designs_s`."""
        read_at, known = self._running
        if time.monotonic() - read_at < self.designs_s:
            return known
        async with self.database.session() as session:
            rows = await session.scalars(
                select(StoredExperiment).where(StoredExperiment.status == "running")
            )
            known = [Running.of(row) for row in rows]
        self._running = (time.monotonic(), known)
        return known

    async def allocations(self, profile_id: str) -> Allocations:
        return allocate(await self.running(), profile_id)

    # --- exposures and observations -----------------------------------------------------------
    async def expose(
        self, session: AsyncSession, *, profile_id: str, experiment_ids: list[str], shown: list[str]
    ) -> int:
        """Log that the profile was shown its cell of each experiment (the cell is computed
        here, never taken from the caller); experiments not running or not including the
        profile are skipped."""
        logged = 0
        running = {r.id: r for r in await self.running()}
        at = now_ms()
        for experiment_id in dict.fromkeys(experiment_ids):
            experiment = running.get(experiment_id)
            cell = experiment.design.cell_of(profile_id) if experiment else None
            if cell is None:
                continue
            row = await session.scalar(
                select(Exposure).where(
                    Exposure.experiment_id == experiment_id, Exposure.profile_id == profile_id
                )
            )
            if row is None:
                session.add(
                    Exposure(
                        experiment_id=experiment_id,
                        profile_id=profile_id,
                        cell=cell,
                        first_ms=at,
                        last_ms=at,
                        times=1,
                        shown=shown[:SHOWN_KEPT],
                    )
                )
            else:
                row.last_ms, row.times = at, row.times + 1
                row.shown = list(dict.fromkeys([*shown, *row.shown]))[:SHOWN_KEPT]
            EXPOSURES.labels(cell).inc()
            logged += 1
        return logged

    async def observe(
        self, session: AsyncSession, *, profile_id: str, values: dict[str, float], at_ms: int
    ) -> None:
        """What a profile did, kept only for a profile exposed to some experiment."""
        if await _shown_to(session, profile_id):
            _keep(session, profile_id, values, at_ms)

    async def play_started(
        self, session: AsyncSession, *, profile_id: str, row: str | None, at_ms: int
    ) -> None:
        """A play start of an exposed profile; from a recommendation row when the player said
        it was started from one (a start from search, a link or an older player is not)."""
        if await _shown_to(session, profile_id):
            from_row = 1.0 if rows.is_recommendation(row) else 0.0
            _keep(session, profile_id, {"play_start": 1.0, "row_play_start": from_row}, at_ms)

    # --- the report ---------------------------------------------------------------------------
    async def report(self, session: AsyncSession, experiment: str) -> dict[str, Any]:
        row = await self.get(session, experiment)
        exposures = list(
            await session.execute(
                select(Exposure.profile_id, Exposure.cell, Exposure.first_ms).where(
                    Exposure.experiment_id == row.id
                )
            )
        )
        since = {p: first for p, _, first in exposures}
        until = row.stopped_ms or now_ms() + 1
        seen: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        profiles = list(since)
        for start in range(0, len(profiles), IN_CHUNKS):
            chunk = profiles[start : start + IN_CHUNKS]
            found = await session.execute(
                select(
                    Observation.profile_id, Observation.metric, Observation.value, Observation.at_ms
                ).where(Observation.profile_id.in_(chunk))
            )
            for profile_id, metric, value, at in found:
                if since[profile_id] <= at < until:
                    seen[profile_id][metric].append(value)
        values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        members: dict[str, int] = defaultdict(int)
        for profile_id, cell, _ in exposures:
            members[cell] += 1
            for metric, value in member_metrics(seen.get(profile_id, {})).items():
                values[metric][cell].append(value)
        cells = [CellSpec.model_validate(c) for c in row.cells]
        return {
            "experiment": view(row).model_dump(),
            "members": dict(members),
            **analysis.analyse(
                control=row.control,
                weights={c.name: c.weight for c in cells},
                members=members,
                values=values,
            ),
        }


async def _shown_to(session: AsyncSession, profile_id: str) -> list[list[str]]:
    """The titles each of the profile's exposures showed; empty for a profile never exposed."""
    return list(
        await session.scalars(select(Exposure.shown).where(Exposure.profile_id == profile_id))
    )


def _keep(session: AsyncSession, profile_id: str, values: dict[str, float], at_ms: int) -> None:
    for metric, value in values.items():
        session.add(Observation(profile_id=profile_id, metric=metric, value=value, at_ms=at_ms))


def member_metrics(seen: dict[str, list[float]]) -> dict[str, float]:
    """One member's numbers: counts and sums for everyone exposed (0 when they did nothing),
    ratios and QoE only for members who have them."""
    starts = sum(seen.get("play_start", []))
    from_rows = sum(seen.get("row_play_start", []))
    played = sum(seen.get("played_ms", []))
    out = {
        "play_starts": starts,
        "row_play_starts": from_rows,
        "watch_minutes": played / 60_000,
    }
    if starts:
        out["row_share"] = from_rows / starts
    if seen.get("ttff_ms"):
        out["play_delay_ms"] = sum(seen["ttff_ms"]) / len(seen["ttff_ms"])
    if played:
        out["rebuffer_ratio"] = sum(seen.get("rebuffer_ms", [])) / played
    return out
