"""Experiments as the gateway applies them: a profile's cells (from the experiments service,
kept per profile for a while in this instance), their overrides carried in the
`X-Cinemesh-Treatments` header on every call made for the profile (`Gateway.require_profile`
looks them up once a request; platform/treatments.py carries them), and an exposure logged
once a cell's experience was shown.

Experiments never cost a page: the allocation is asked with a short deadline, and when the
experiments service does not answer the profile keeps the cells it had here, or gets control
(no overrides, no exposure). Exposures are sent after the page, in the background; a lost
one is counted, never waited for. A page that shows a profile the same titles under the same
cells as the last exposure this instance sent for it is not sent again (until
EXPOSURE_RESENT_AFTER_S): the experiments service keeps one exposure per profile and
experiment, so a repeat would only cost both services a write per page view."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import Counter

from cinemesh.contracts.treatments import treatment
from cinemesh.platform.errors import ApiError

if TYPE_CHECKING:  # the gateway makes its allocator (core.py)
    from cinemesh.services.gateway.core import Gateway

ALLOCATION_DEADLINE_S = 0.1
EXPOSURE_DEADLINE_S = 0.5
KEPT_FOR_S = 30.0  # a start or stop reaches a profile's pages within this
KEPT_PROFILES = 50_000
EXPOSURE_RESENT_AFTER_S = 300.0

ALLOCATIONS = Counter(
    "cinemesh_gateway_allocations_total",
    "Experiment allocations looked up, by where they came from",
    ["source"],  # kept, asked, kept_stale, control_fallback
)
KEPT_ALLOCATIONS = ALLOCATIONS.labels("kept")  # on every member request: bound once
EXPOSURES = Counter(
    "cinemesh_gateway_exposures_total", "Exposures sent to experiments, by outcome", ["outcome"]
)


@dataclass(frozen=True)
class Assignment:
    treatments: str  # `key=value;...`, "" for control everywhere
    experiment_ids: tuple[str, ...]

    def override(self, key: str) -> str | None:
        return treatment(self.treatments, key)


CONTROL = Assignment("", ())


class Allocator:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self._kept: OrderedDict[str, tuple[float, Assignment]] = OrderedDict()
        self._sending: set[asyncio.Task[None]] = set()
        self._exposed: OrderedDict[str, tuple[float, tuple[str, ...], tuple[str, ...]]] = (
            OrderedDict()
        )

    def kept(self, profile_id: str) -> Assignment | None:
        """The profile's cells as this instance last heard them, while fresh."""
        found = self._kept.get(profile_id)
        if found is not None and time.monotonic() - found[0] < KEPT_FOR_S:
            return found[1]
        return None

    async def of(self, profile_id: str) -> Assignment:
        kept = self.kept(profile_id)
        if kept is not None:
            KEPT_ALLOCATIONS.inc()
            return kept
        try:
            response = await self.gw.call(
                "experiments",
                "GET",
                "/v1/allocations",
                params={"profile_id": profile_id},
                timeout_s=ALLOCATION_DEADLINE_S,
                idempotent=True,
            )
            if response.status != 200:
                raise ValueError(f"experiments answered {response.status}")
            body = response.json()
            assignment = Assignment(
                str(body["treatments"]),
                tuple(str(a["experiment_id"]) for a in body["allocations"]),
            )
        except (ApiError, ValueError, KeyError, TypeError):
            stale = self._kept.get(profile_id)
            ALLOCATIONS.labels("kept_stale" if stale else "control_fallback").inc()
            return stale[1] if stale else CONTROL
        ALLOCATIONS.labels("asked").inc()
        self._kept[profile_id] = (time.monotonic(), assignment)
        self._kept.move_to_end(profile_id)
        while len(self._kept) > KEPT_PROFILES:
            self._kept.popitem(last=False)
        return assignment

    def expose(self, profile_id: str, assignment: Assignment, *, shown: list[str]) -> None:
        """Log, in the background, that the profile was shown its cells' experience."""
        if not assignment.experiment_ids or self._already_exposed(profile_id, assignment, shown):
            return
        task = asyncio.create_task(self._send(profile_id, assignment, shown))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def _already_exposed(self, profile_id: str, assignment: Assignment, shown: list[str]) -> bool:
        """Whether this instance sent this very exposure lately; remembers it when not."""
        now, titles = time.monotonic(), tuple(shown[:200])
        last = self._exposed.get(profile_id)
        if (
            last is not None
            and now - last[0] < EXPOSURE_RESENT_AFTER_S
            and last[1:] == (assignment.experiment_ids, titles)
        ):
            EXPOSURES.labels("repeat_not_sent").inc()
            return True
        self._exposed[profile_id] = (now, assignment.experiment_ids, titles)
        self._exposed.move_to_end(profile_id)
        while len(self._exposed) > KEPT_PROFILES:
            self._exposed.popitem(last=False)
        return False

    async def _send(self, profile_id: str, assignment: Assignment, shown: list[str]) -> None:
        try:
            response = await self.gw.call(
                "experiments",
                "POST",
                "/v1/exposures",
                json={
                    "profile_id": profile_id,
                    "experiment_ids": list(assignment.experiment_ids),
                    "shown": shown[:200],
                },
                timeout_s=EXPOSURE_DEADLINE_S,
                idempotent=True,  # logging one exposure twice counts one member once
            )
            EXPOSURES.labels("logged" if response.status == 200 else "refused").inc()
        except ApiError:
            EXPOSURES.labels("lost").inc()
