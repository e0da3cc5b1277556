"""Quality of experience over the last minutes: per title, per edge and per plan, the play
delay (time to first frame) p50 and p90, the rebuffer ratio, the mean bitrate and the error
rate, from the beacons received in the window.

Every instance recomputes the window from the shared database every few seconds, so all
instances show the same figures (take any one, or `max by (by, key)`, in Prometheus), and
exports them as gauges at `/metrics`:
`cinemesh_qoe_play_delay_seconds{by="title", key="t-1", quantile="0.9"}` and so on, with `by`
one of title, edge, plan. Only the busiest titles get series (a bounded number); the API
answers them all."""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from cinemesh.platform.db import Database
from cinemesh.platform.discovery import Discovery
from cinemesh.platform.observability import logger
from cinemesh.services.telemetry.models import StoredBeacon
from cinemesh.services.telemetry.service import now_ms

log = logger("cinemesh.telemetry")
DIMENSIONS = ("title", "edge", "plan")
DISCOVERY_DEADLINE_S = 0.5


@dataclass(frozen=True)
class Stretch:
    """One session's beacons on one edge within the window (a row of the grouped query)."""

    session_id: str
    title: str
    edge: str
    plan: str
    ttff_ms: int | None
    played_ms: int
    rebuffer_ms: int
    stalls: int
    bitrate_ms: float  # sum of bitrate x time played, over the beacons that named a bitrate
    timed_ms: int  # the time played by those beacons
    dropped_frames: int
    decoded_frames: int
    errors: int
    fatal: bool


def percentile(ordered: list[int], q: float) -> int | None:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def figures(stretches: list[Stretch]) -> dict[str, Any]:
    """The QoE of some sessions. Rebuffer ratio: time stalled over time stalled or playing.
    Error rate: the share of sessions that hit a fatal error."""
    sessions = {s.session_id for s in stretches}
    delays = sorted(s.ttff_ms for s in stretches if s.ttff_ms is not None)
    played = sum(s.played_ms for s in stretches)
    rebuffer = sum(s.rebuffer_ms for s in stretches)
    timed = sum(s.timed_ms for s in stretches)
    decoded = sum(s.decoded_frames for s in stretches)
    failed = {s.session_id for s in stretches if s.fatal}
    return {
        "sessions": len(sessions),
        "play_delay_p50_ms": percentile(delays, 0.5),
        "play_delay_p90_ms": percentile(delays, 0.9),
        "rebuffer_ratio": round(rebuffer / (played + rebuffer), 5) if played + rebuffer else 0.0,
        "avg_bitrate_kbps": round(sum(s.bitrate_ms for s in stretches) / timed, 1)
        if timed
        else None,
        "error_rate": round(len(failed) / len(sessions), 5) if sessions else 0.0,
        "stalls": sum(s.stalls for s in stretches),
        "errors": sum(s.errors for s in stretches),
        "played_s": round(played / 1000, 1),
        "dropped_frame_ratio": round(sum(s.dropped_frames for s in stretches) / decoded, 5)
        if decoded
        else 0.0,
    }


def grouped(stretches: list[Stretch], by: str) -> list[tuple[str, list[Stretch]]]:
    groups: dict[str, list[Stretch]] = defaultdict(list)
    for stretch in stretches:
        groups[getattr(stretch, by)].append(stretch)
    return sorted(groups.items(), key=lambda kv: (-len({s.session_id for s in kv[1]}), kv[0]))


class QoeWindow:
    """The latest figures of the window, recomputed by `refresh`."""

    def __init__(self, db: Database, discovery: Discovery, *, window_s: float) -> None:
        self.db = db
        self.discovery = discovery
        self.window_s = window_s
        self.latest: dict[str, Any] = self.empty()
        self._edge_instances: dict[str, str] = {}

    def empty(self) -> dict[str, Any]:
        return {
            "window_s": self.window_s,
            "computed_at": None,
            "beacons": 0,
            "overall": figures([]),
            **{f"by_{by}": [] for by in DIMENSIONS},
        }

    async def refresh(self) -> dict[str, Any]:
        stretches, beacons = await self._stretches(since_ms=now_ms() - int(self.window_s * 1000))
        instances = await self._edges()
        answer = {
            "window_s": self.window_s,
            "computed_at": datetime.now(UTC).isoformat(),
            "beacons": beacons,
            "overall": figures(stretches),
        }
        for by in DIMENSIONS:
            rows = []
            for key, group in grouped(stretches, by):
                row: dict[str, Any] = {by: key or "unknown", **figures(group)}
                if by == "edge":
                    row["instance"] = instances.get(key)
                rows.append(row)
            answer[f"by_{by}"] = rows
        self.latest = answer
        return answer

    async def _stretches(self, *, since_ms: int) -> tuple[list[Stretch], int]:
        b = StoredBeacon
        stmt = (
            select(
                b.session_id,
                b.title_id,
                b.edge,
                b.plan,
                func.max(b.ttff_ms),
                func.sum(b.played_ms),
                func.sum(b.rebuffer_ms),
                func.sum(b.stalls),
                func.sum(b.bitrate_kbps * b.played_ms),
                func.sum(case((b.bitrate_kbps.is_not(None), b.played_ms), else_=0)),
                func.sum(b.dropped_frames),
                func.sum(b.decoded_frames),
                func.sum(b.error_count),
                func.max(case((b.fatal, 1), else_=0)),
                func.count(),
            )
            .where(b.received_ms >= since_ms)
            .group_by(b.session_id, b.title_id, b.edge, b.plan)
        )
        async with self.db.session() as session:
            rows = (await session.execute(stmt)).all()
        stretches = [
            Stretch(
                session_id=r[0],
                title=r[1],
                edge=r[2],
                plan=r[3],
                ttff_ms=None if r[4] is None else int(r[4]),
                played_ms=int(r[5] or 0),
                rebuffer_ms=int(r[6] or 0),
                stalls=int(r[7] or 0),
                bitrate_ms=float(r[8] or 0),
                timed_ms=int(r[9] or 0),
                dropped_frames=int(r[10] or 0),
                decoded_frames=int(r[11] or 0),
                errors=int(r[12] or 0),
                fatal=bool(r[13]),
            )
            for r in rows
        ]
        return stretches, sum(int(r[14]) for r in rows)

    async def _edges(self) -> dict[str, str]:
        """Edge origins to the instances registered there (kept when discovery can't say)."""
        try:
            found = await asyncio.wait_for(
                self.discovery.instances("edge"), timeout=DISCOVERY_DEADLINE_S
            )
        except Exception as exc:
            log.debug("edge instances unknown", error=str(exc) or type(exc).__name__)
            return self._edge_instances
        self._edge_instances = {inst.url.rstrip("/"): inst.instance_id for inst in found}
        return self._edge_instances


class QoeMetrics(Collector):
    """The window's figures as Prometheus gauges, read at each scrape."""

    def __init__(self, window: QoeWindow, *, max_titles: int) -> None:
        self.window = window
        self.max_titles = max_titles

    def describe(self) -> Iterable[Any]:
        return []  # nothing fixed to declare: the series follow the window

    def collect(self) -> Iterator[GaugeMetricFamily]:
        latest = self.window.latest
        labels = ["by", "key"]
        sessions = GaugeMetricFamily(
            "cinemesh_qoe_sessions", "Sessions that sent beacons in the window", labels=labels
        )
        delay = GaugeMetricFamily(
            "cinemesh_qoe_play_delay_seconds",
            "Time to first frame in the window, by quantile",
            labels=[*labels, "quantile"],
        )
        rebuffer = GaugeMetricFamily(
            "cinemesh_qoe_rebuffer_ratio",
            "Time stalled over time stalled or playing, in the window",
            labels=labels,
        )
        bitrate = GaugeMetricFamily(
            "cinemesh_qoe_bitrate_kbps", "Mean bitrate over the time played", labels=labels
        )
        errors = GaugeMetricFamily(
            "cinemesh_qoe_error_rate", "Share of sessions with a fatal error", labels=labels
        )
        for by in DIMENSIONS:
            rows = latest.get(f"by_{by}", [])
            for row in rows[: self.max_titles] if by == "title" else rows:
                key = [by, str(row[by])]
                sessions.add_metric(key, row["sessions"])
                for quantile, field in (("0.5", "play_delay_p50_ms"), ("0.9", "play_delay_p90_ms")):
                    if row[field] is not None:
                        delay.add_metric([*key, quantile], row[field] / 1000)
                rebuffer.add_metric(key, row["rebuffer_ratio"])
                if row["avg_bitrate_kbps"] is not None:
                    bitrate.add_metric(key, row["avg_bitrate_kbps"])
                errors.add_metric(key, row["error_rate"])
        yield from (sessions, delay, rebuffer, bitrate, errors)

    def register(self) -> None:
        REGISTRY.register(self)

    def unregister(self) -> None:
        REGISTRY.unregister(self)
