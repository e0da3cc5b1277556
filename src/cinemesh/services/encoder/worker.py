"""An encoder instance as a worker on the `encode` JetStream queue: one job at a time, kept
alive with in-progress acks while it works, so a dead worker's job is redelivered after
`ack_wait_s` and finished by whichever instance takes it. A worker that drains (SIGTERM) takes
no new job and, as it stops, hands the one in flight back to the queue (a nak), so another
worker starts it at once instead of after the ack wait. Once an episode's job is ready, the
worker detects its season's intro and credits (season.py) before it takes the next job."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import nats.errors
import orjson

from cinemesh.platform.http import ServiceUnavailable
from cinemesh.platform.media_store import MediaStore, OriginUnavailable
from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.encoder.ffmpeg import FfmpegError
from cinemesh.services.encoder.intro import IntroError
from cinemesh.services.encoder.ladder import EncodeOptions
from cinemesh.services.encoder.models import Job
from cinemesh.services.encoder.package import MediaFolders, QualityOptions, build_package
from cinemesh.services.encoder.probe import SourceInfo
from cinemesh.services.encoder.season import SeasonMarkers
from cinemesh.services.encoder.service import FINAL_STATES, Jobs, SubtitleTracks
from cinemesh.services.encoder.settings import EncoderSettings
from cinemesh.services.encoder.sources import SourceShelf
from cinemesh.services.encoder.subtitles import SubtitleSource

QUEUE = "encode"
PROGRESS_EVERY_S = 1.0
STORE_RETRY_FIRST_S, STORE_RETRY_MAX_S = 1.0, 15.0
log = logger("cinemesh.encoder.worker")


class EncodeWorker:
    def __init__(
        self,
        runtime: ServiceRuntime,
        jobs: Jobs,
        *,
        tracks: SubtitleTracks,
        folders: MediaFolders,
        store: MediaStore,
        settings: EncoderSettings,
    ) -> None:
        self.runtime = runtime
        self.jobs = jobs
        self.tracks = tracks
        self.folders = folders
        self.store = store
        self.sources = SourceShelf(folders, store)
        self.settings = settings
        self.markers = SeasonMarkers(runtime, jobs, self.sources, min_s=settings.intro_min_s)
        self.encode = EncodeOptions(
            preset=settings.preset,
            crf=settings.crf,
            segment_s=settings.segment_s,
            threads=settings.threads,
            start_segment_s=settings.start_segment_s,
        )
        self.quality = QualityOptions(
            min_gain=settings.vmaf_min_gain, subsample=settings.vmaf_subsample
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="encode-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run_forever(self) -> None:
        while not self.runtime.drain.active:
            try:
                queue = await self.runtime.work_queue(QUEUE)
                sub = await queue.subscribe(ack_wait_s=self.settings.ack_wait_s)
                await self._take_jobs(sub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("encode queue unavailable, retrying", error=str(exc) or repr(exc))
                await asyncio.sleep(2.0)

    async def _take_jobs(self, sub: Any) -> None:
        while not self.runtime.drain.active:
            try:
                msgs = await sub.fetch(batch=1, timeout=5.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for msg in msgs:
                if self.runtime.drain.active:  # fetched as the drain began: another worker's
                    await msg.nak()
                else:
                    await self._handle(msg)

    async def _handle(self, msg: Any) -> None:
        try:
            job_id = str(orjson.loads(msg.data)["job_id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.error("dropping a malformed encode job")
            await msg.term()
            return
        keep_alive = asyncio.create_task(self._keep_alive(msg))
        try:
            await self._work_on(job_id, delivery=_delivery_count(msg))
            await msg.ack()
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(msg.nak())  # shutting down: another worker takes it now
            raise
        except Exception as exc:
            log.error("encode job failed unexpectedly", job_id=job_id, exc_info=exc)
            await msg.nak(delay=5.0)
        finally:
            keep_alive.cancel()

    async def _keep_alive(self, msg: Any) -> None:
        every = max(1.0, self.settings.ack_wait_s / 3)
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _work_on(self, job_id: str, *, delivery: int) -> None:
        job = await self.jobs.find(job_id)
        if job is None:
            log.warning("encode job not in the database; dropping it", job_id=job_id)
            return
        if job.state in FINAL_STATES:
            return
        if delivery > self.settings.max_attempts:
            await self.jobs.fail(job_id, f"gave up after {delivery - 1} attempts")
            return
        await self.jobs.start_attempt(job_id, worker=self.runtime.instance_id)
        log.info("encoding", job_id=job_id, attempt=delivery)
        report = ProgressReport(self.jobs, job_id)
        try:
            manifest = await self._package_and_publish(job, report)
        except (FfmpegError, OSError, ValueError) as exc:
            log.warning("encode failed", job_id=job_id, error=str(exc))
            await self.jobs.fail(job_id, str(exc))
            return
        await self.jobs.complete(job_id, manifest)
        log.info("asset ready", job_id=job_id, asset_id=job.asset_id)
        if job.episode_id and self.settings.detect_markers:
            await self._mark_season(job)
        if self.sources.release(job.source):  # published; the store keeps the source
            log.info("local copy of the source deleted", job_id=job_id, source=job.source)

    async def _mark_season(self, job: Job) -> None:
        try:
            detected = await self.markers.detect_after(job)
        except (ServiceUnavailable, OriginUnavailable, IntroError, OSError) as exc:
            log.warning("season markers not detected", job_id=job.id, error=str(exc))
            return
        if detected:
            log.info("season markers detected", title_id=job.title_id, episodes=len(detected))

    async def _package_and_publish(self, job: Job, report: ProgressReport) -> dict[str, Any]:
        """The package, published; while the media store is down the job waits (the queue
        message kept alive) and publishes what it packaged once the store answers again."""
        wait_s = STORE_RETRY_FIRST_S
        subtitles = [
            SubtitleSource(t.language, t.kind, t.name, t.webvtt)
            for t in await self.tracks.get_many(job.subtitles or [])
        ]
        while True:
            try:
                return await build_package(
                    job_id=job.id,
                    asset_id=job.asset_id,
                    source_path=await self.sources.local(job.source),
                    source=SourceInfo.from_dict(job.source_info),
                    folders=self.folders,
                    store=self.store,
                    encode=self.encode,
                    quality=self.quality,
                    report=report,
                    subtitles=subtitles,
                )
            except OriginUnavailable as exc:
                log.warning("media store unavailable; the job waits", job_id=job.id, error=str(exc))
                await asyncio.sleep(wait_s)
                wait_s = min(STORE_RETRY_MAX_S, wait_s * 2)


class ProgressReport:
    """Writes progress at most once a second, and at once when the state changes."""

    def __init__(self, jobs: Jobs, job_id: str) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self.state = ""
        self.written_at = 0.0

    async def __call__(self, state: str, percent: float) -> None:
        now = time.monotonic()
        if state == self.state and now - self.written_at < PROGRESS_EVERY_S:
            return
        self.state, self.written_at = state, now
        await self.jobs.progress(self.job_id, state=state, percent=round(percent, 1))


def _delivery_count(msg: Any) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:
        return 1
