"""A season's intro and credits, found once its episodes are packaged. After an episode's job is
ready, the worker asks the catalog which episodes share its season, takes the source of each
one this encoder has packaged and, with two or more, runs intro.py's detection on them (in a
thread: numpy and ffmpeg children) and publishes `media.markers.detected` for every one of them.
Best effort: a catalog or media store that cannot answer leaves the markers as they were, and
the next episode packaged in the season detects again (with more episodes to compare)."""

from __future__ import annotations

import asyncio
from typing import Any

from cinemesh.contracts.media import MarkersDetected
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.encoder.intro import EpisodeMarkers, detect_markers
from cinemesh.services.encoder.models import Job
from cinemesh.services.encoder.probe import SourceInfo
from cinemesh.services.encoder.service import Jobs
from cinemesh.services.encoder.sources import SourceShelf

CATALOG_DEADLINE_S = 5.0


class SeasonMarkers:
    def __init__(
        self, runtime: ServiceRuntime, jobs: Jobs, sources: SourceShelf, *, min_s: float
    ) -> None:
        self.runtime = runtime
        self.jobs = jobs
        self.sources = sources
        self.min_s = min_s

    async def detect_after(self, job: Job) -> list[MarkersDetected]:
        """Detect the markers of the season of `job`'s episode and publish them; answers what
        was published (nothing for a movie, or a season with fewer than two packaged episodes
        that have sound)."""
        if job.episode_id is None:
            return []
        packaged: list[Job] = []
        for episode_id in await self.season_of(job.title_id, job.episode_id):
            ready = await self.jobs.latest_ready(title_id=job.title_id, episode_id=episode_id)
            if ready is not None and SourceInfo.from_dict(ready.source_info).has_audio:
                packaged.append(ready)
        if len(packaged) < 2:
            return []
        paths = [await self.sources.local(p.source) for p in packaged]
        try:
            found = await asyncio.to_thread(detect_markers, paths, min_s=self.min_s)
        finally:  # the other episodes' copies fetched for this (the worker releases job's own)
            for other in packaged:
                if other.source != job.source:
                    self.sources.release(other.source)
        compared = [str(p.episode_id) for p in packaged]
        detected = [detected_event(p, m, compared) for p, m in zip(packaged, found, strict=True)]
        await self.jobs.announce_markers(detected)
        return detected

    async def season_of(self, title_id: str, episode_id: str) -> list[str]:
        """The episodes of `episode_id`'s season in order, as the catalog has them (none when
        the catalog does not know the title or episode). ServiceUnavailable when it cannot
        answer."""
        answer = await self.runtime.clients("catalog").request(
            "GET", f"/v1/titles/{title_id}", timeout_s=CATALOG_DEADLINE_S, idempotent=True
        )
        if answer.status != 200:
            return []
        seasons: list[dict[str, Any]] = answer.json().get("seasons") or []
        for season in seasons:
            ids = [str(e["id"]) for e in season.get("episodes") or []]
            if episode_id in ids:
                return ids
        return []


def detected_event(job: Job, markers: EpisodeMarkers, compared: list[str]) -> MarkersDetected:
    intro, credits = markers.intro, markers.credits
    return MarkersDetected(
        title_id=job.title_id,
        episode_id=str(job.episode_id),
        asset_id=job.asset_id,
        intro_start_s=intro.start_s if intro else None,
        intro_end_s=intro.end_s if intro else None,
        credits_start_s=credits.start_s if credits else None,
        season_episode_ids=compared,
    )
