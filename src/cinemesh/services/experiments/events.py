"""What experiments consumes: play starts (`playback.started`) and every play's QoE and time
played (`telemetry.play.reported`), kept as observations of the profiles exposed to some
experiment. Each event once (the chassis dedupes by event id)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.playback import PlaybackStarted
from cinemesh.contracts.telemetry import PlayReported
from cinemesh.platform.events import Event
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.experiments.service import Experiments, now_ms


def at_ms(moment: str) -> int:
    try:
        return int(datetime.fromisoformat(moment).timestamp() * 1000)
    except ValueError:
        return now_ms()


def consume_events(runtime: ServiceRuntime, experiments: Experiments) -> None:
    async def observe_plays(session: AsyncSession, event: Event) -> None:
        if event.type != PlaybackStarted.TYPE:
            return
        started = PlaybackStarted.model_validate(event.data)
        await experiments.play_started(
            session,
            profile_id=started.profile_id,
            row=started.row,
            at_ms=at_ms(started.at),
        )

    async def observe_quality(session: AsyncSession, event: Event) -> None:
        if event.type != PlayReported.TYPE:
            return
        told = PlayReported.model_validate(event.data)
        values = {"played_ms": float(told.played_ms), "rebuffer_ms": float(told.rebuffer_ms)}
        if told.ttff_ms is not None:
            values["ttff_ms"] = float(told.ttff_ms)
        await experiments.observe(
            session, profile_id=told.profile_id, values=values, at_ms=at_ms(told.at)
        )

    # The handlers' names are the consumers' names (`experiments.observe_plays`): keep them.
    runtime.consume("playback.*")(observe_plays)
    runtime.consume("telemetry.>")(observe_quality)
