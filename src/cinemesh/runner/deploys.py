"""Rolling deploys on the local platform: the supervisor replaces a service's instances with
a release's, one at a time, never stopping an old instance before a new one is ready.

A new instance that exits or is not ready within `ready_timeout_s` fails the deploy: the new
instances started so far are drained and stopped, and every old one that is left keeps
running (those already replaced come back on the old release). That is the rollback.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cinemesh.runner.canary import Series, Verdict, judge

if TYPE_CHECKING:
    from cinemesh.runner.supervisor import Slot, Supervisor

READY_TIMEOUT_S = 60.0


@dataclass
class DeployProgress:
    """What `cinemesh deploy` shows while it runs, and keeps once it ends."""

    service: str
    release: str
    strategy: str
    started_at: float = field(default_factory=time.time)
    phase: str = "starting"
    replaced: int = 0
    total: int = 0
    verdict: str = ""  # "promoted", "rolled back", or "" while running
    reason: str = ""
    finished_at: float = 0.0
    analysis: dict[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "elapsed_s": round((self.finished_at or time.time()) - self.started_at, 1),
        }

    def end(self, verdict: str, reason: str = "") -> None:
        self.verdict, self.reason, self.finished_at = verdict, reason, time.time()
        self.phase = "done"


class DeployFailed(Exception):
    pass


async def rolling(
    supervisor: Supervisor, service: str, release: dict[str, Any], progress: DeployProgress
) -> None:
    """Replace every instance of `service` with one of `release`, one at a time."""
    await _replace(supervisor, service, release, progress, old=list(supervisor.slots[service]))


async def _replace(
    supervisor: Supervisor,
    service: str,
    release: dict[str, Any],
    progress: DeployProgress,
    *,
    old: list[Slot],
    ready: Slot | None = None,
) -> None:
    """For each old instance: a new one ready (the `ready` one first), then the old drained.
    A new instance takes over the address of the one it replaces (runner/addresses.py)."""
    progress.total = len(old)
    started = [ready] if ready else []
    try:
        for slot in old:
            if ready is None or slot is not old[0]:
                progress.phase = f"starting new instance {progress.replaced + 1} of {len(old)}"
                fresh = await supervisor.add_release_slot(service, release, replacing=slot)
                started.append(fresh)
                await wait_ready(supervisor, fresh, timeout_s=READY_TIMEOUT_S)
            progress.phase = f"draining old instance {slot.index}"
            await supervisor.retire_slot(slot)
            progress.replaced += 1
    except DeployFailed as failed:
        progress.phase = "rolling back"
        await _undo(supervisor, service, old, started)
        progress.end("rolled back", str(failed))
        return
    progress.end("promoted")


async def wait_ready(supervisor: Supervisor, slot: Slot, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if slot.process is not None and slot.process.returncode is not None:
            raise DeployFailed(
                f"{slot.service}[{slot.index}] of the new release exited with code "
                f"{slot.process.returncode} before it was ready "
                f"(log: {supervisor.layout.log_file(slot.service, slot.index)})"
            )
        await supervisor.probe(slot)
        if slot.healthy:
            return
        await asyncio.sleep(0.25)
    raise DeployFailed(
        f"{slot.service}[{slot.index}] of the new release was not ready within {timeout_s:.0f}s "
        f"(log: {supervisor.layout.log_file(slot.service, slot.index)})"
    )


async def _undo(supervisor: Supervisor, service: str, old: list[Slot], started: list[Slot]) -> None:
    """Stop the new instances; bring back on the old release the old ones already retired."""
    retired = [s for s in old if s not in supervisor.slots[service]]
    back = [
        await supervisor.add_release_slot(service, slot.release, replacing=slot) for slot in retired
    ]
    for slot in back:
        try:
            await wait_ready(supervisor, slot, timeout_s=READY_TIMEOUT_S)
        except DeployFailed:
            pass  # the supervisor keeps restarting it; the new ones must go all the same
    for slot in started:
        await supervisor.retire_slot(slot)


@dataclass(frozen=True)
class CanaryPlan:
    weight_pct: float = 10.0
    duration_s: float = 120.0
    interval_s: float = 2.0


async def canary(
    supervisor: Supervisor,
    service: str,
    release: dict[str, Any],
    progress: DeployProgress,
    plan: CanaryPlan,
) -> None:
    """One instance of `release` beside the old ones, given `weight_pct` of the calls, judged
    against them (runner/canary.py) until `duration_s` is up or it fails; then promoted by a
    rolling deploy, or stopped."""
    baseline = list(supervisor.slots[service])
    progress.phase = "starting the canary"
    slot = await supervisor.add_release_slot(service, release)
    try:
        await wait_ready(supervisor, slot, timeout_s=READY_TIMEOUT_S)
    except DeployFailed as failed:
        await supervisor.retire_slot(slot)
        progress.end("rolled back", str(failed))
        return
    old_version = baseline[0].version if baseline else ""
    await supervisor.set_weights(
        service, {str(slot.version): plan.weight_pct, old_version: 100 - plan.weight_pct}
    )
    try:
        verdict = await analyse(supervisor, service, slot, baseline, progress, plan)
    finally:
        await supervisor.set_weights(service, {})
    if verdict.passed is False:
        progress.phase = "rolling back the canary"
        await supervisor.retire_slot(slot)
        progress.end("rolled back", f"canary failed: {verdict.reason}")
        return
    progress.phase = "promoting"
    await _replace(supervisor, service, release, progress, old=baseline, ready=slot)


async def analyse(
    supervisor: Supervisor,
    service: str,
    slot: Slot,
    baseline: list[Slot],
    progress: DeployProgress,
    plan: CanaryPlan,
) -> Verdict:
    canary_series, baseline_series = Series(), Series()
    verdict = Verdict(None, "collecting intervals")
    deadline = time.monotonic() + plan.duration_s
    while time.monotonic() < deadline:
        canary_series.add(await supervisor.read_totals(service, [slot]))
        baseline_series.add(await supervisor.read_totals(service, baseline))
        verdict = judge(canary_series, baseline_series)
        progress.analysis = {
            "intervals": len(canary_series.errors),
            "canary_errors": _last(canary_series.errors),
            "baseline_errors": _last(baseline_series.errors),
            "canary_latency_ms": _last(canary_series.latency_s) * 1000,
            "baseline_latency_ms": _last(baseline_series.latency_s) * 1000,
            "judgement": verdict.reason,
        }
        progress.phase = f"analysing: {verdict.reason}"
        if verdict.passed is False:
            return verdict
        await asyncio.sleep(plan.interval_s)
    if verdict.passed is None:
        return Verdict(False, "too little traffic to judge the canary; nothing was promoted")
    return verdict


def _last(values: list[float]) -> float:
    return round(values[-1], 4) if values else 0.0
