"""Keeping a model in service: load the newest snapshot any instance published, retrain on a
schedule and on demand, and swap the new snapshot in only once it is complete.

Retraining runs in a trainer process of its own (spawned once, at a lower CPU priority, with
one BLAS thread; trainer.py): it reads every interaction, fits, and publishes the snapshot to
the shared folder; the serving process then loads that snapshot on its event loop, a slice at
a time between requests. Reading 100k interactions and fitting takes seconds of mostly Python
work, and done in the serving process it held the GIL and the event loop while requests
waited. Only the very first model, when nothing is served yet, is trained in the serving
process."""

from __future__ import annotations

import asyncio
import gc
import itertools
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from cinemesh.platform.db import Database
from cinemesh.platform.observability import logger
from cinemesh.services.recommender import sequence, trainer
from cinemesh.services.recommender.collaborative import ModelFileError, ModelParams
from cinemesh.services.recommender.service import TrainingData, training_data
from cinemesh.services.recommender.slices import between_requests
from cinemesh.services.recommender.snapshot import ModelStore, Snapshot, build_snapshot

log = logger("recommender.training")
CHALLENGER = sequence.SequenceParams()  # the challenger's term is fitted beside every snapshot


@dataclass(frozen=True)
class TrainingJob:
    """What the trainer process needs: where the data is, where snapshots go, how to fit."""

    database_url: str
    store_root: str
    params: ModelParams
    force: bool


def train(job: TrainingJob) -> dict[str, Any]:
    """Train from the database now (force) or only if the data changed since the newest
    snapshot, and publish the result. With force, wait for another instance's training."""
    store = ModelStore(Path(job.store_root))
    data = asyncio.run(_read(job.database_url))
    latest = store.latest()
    if not job.force and latest and latest.get("fingerprint") == data.fingerprint:
        return {"retrained": False, "reason": "no new data"}
    with store.training_lock(wait=job.force) as mine:
        if not mine:
            return {"retrained": False, "reason": "another instance is training"}
        snapshot = build_snapshot(data, params=job.params)
        sequence.publish(store.root, data=data, version=snapshot.version, params=CHALLENGER)
        store.publish(snapshot)
    return {"retrained": True, "version": snapshot.version}


async def _read(database_url: str) -> TrainingData:
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            return await training_data(conn)
    finally:
        await db.dispose()


class TrainerError(RuntimeError):
    """The trainer process failed a job or died during it."""


class Trainer:
    """One long-lived child process that runs `train` jobs one at a time, spawned on first
    use (imports take a second or two) and again if it dies."""

    def __init__(self) -> None:
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None
        self._ids = itertools.count(1)

    def spawn(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self._process = context.Process(
            target=trainer.main, args=(theirs,), name="recommender-trainer", daemon=True
        )
        self._process.start()
        theirs.close()
        self._pipe = ours

    async def run(self, job: TrainingJob) -> dict[str, Any]:
        self.spawn()
        assert self._pipe is not None
        job_id = next(self._ids)
        self._pipe.send((job_id, job))
        return await asyncio.to_thread(self._answer_to, self._pipe, job_id)

    @staticmethod
    def _answer_to(pipe: Connection, job_id: int) -> dict[str, Any]:
        while True:  # an answer to an abandoned job may come first: skip it
            try:
                answered, outcome = pipe.recv()
            except (EOFError, OSError):
                raise TrainerError("the trainer process died") from None
            if answered == job_id:
                break
        if "error" in outcome:
            raise TrainerError(outcome["error"])
        return dict(outcome)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join(timeout=2)
            self._process = None
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None


def answer_jobs(pipe: Connection) -> None:
    """The trainer process' loop (started by trainer.main): run each job, send its outcome."""
    while True:
        try:
            job_id, job = pipe.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            outcome = train(job)
        except Exception as exc:
            outcome = {"error": f"training failed: {type(exc).__name__}: {exc}"}
        pipe.send((job_id, outcome))


class ModelKeeper:
    """Holds the snapshot requests read. `current` is replaced by one assignment, never
    mutated, so a request sees the old snapshot or the new one, never a mix."""

    def __init__(
        self,
        *,
        store: ModelStore,
        db: Database,
        params: ModelParams,
        interval_s: float,
        poll_s: float,
    ) -> None:
        self.store = store
        self.db = db
        self.params = params
        self.interval_s = interval_s
        self.poll_s = poll_s
        self.current: Snapshot | None = None
        self._training = asyncio.Lock()
        self._loading = asyncio.Lock()
        self._last_attempt = 0.0
        self._trainer = Trainer()
        self.on_new_model: Callable[[str], Awaitable[None]] | None = None

    async def start(self) -> None:
        """Serve the newest published snapshot; train one first if there is none (here: no
        request can wait on it, since nothing is served before it exists)."""
        await self.refresh()
        if self.current is None:
            async with self._training:
                self._last_attempt = time.monotonic()
                outcome = await asyncio.to_thread(train, self._job(force=True))
                await self._serve_published(outcome)
        self._trainer.spawn()  # now, so that the first retrain need not wait for it

    async def refresh(self) -> bool:
        """Load the newest published snapshot if it is not the one serving."""
        pointer = self.store.latest()
        if pointer is None or (self.current and self.current.version == pointer["version"]):
            return False
        return await self._load(pointer["version"])

    async def _load(self, version: str) -> bool:
        async with self._loading:
            if self.current is not None and version <= self.current.version:
                return False
            try:
                loaded = await self._load_uncollected(version)
            except (ModelFileError, FileNotFoundError) as exc:  # pruned or being written
                log.warning("could not load a snapshot", version=version, error=str(exc))
                return False
            self.current = loaded
            log.info("serving a new snapshot", **loaded.describe())
        if self.on_new_model is not None:
            await self.on_new_model(version)
        return True

    async def _load_uncollected(self, version: str) -> Snapshot:
        """Load on the event loop in slices of about a millisecond (`ModelStore.assemble`),
        with the cyclic collector paused, then freeze what was loaded.

        In a thread, the load held the GIL for about 36 ms at a time (parsing JSON, building
        the per-level lists) while requests waited for it. Measured in one process with a load
        every 0.25 s (bench/results/reruns/2026-12-03-recommender-snapshot-loads.md): requests'
        p99 was 32 ms with loads in a thread, 7.3 ms with loads in slices, 7.2 ms with no loads.

        A snapshot is thousands of objects that live until the next one: made with the
        collector on, they set off full collections (15-20 ms holding the GIL), and every
        later full collection walked them again. Frozen, they are never walked; the snapshot
        holds no reference cycles, so it is freed when replaced all the same. The cost: cyclic
        garbage made by requests during the load is frozen too, never freed (a few objects)."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            steps = self.store.assemble(version, serving=self.current)
            return await between_requests(steps)
        finally:
            gc.freeze()
            if collecting:
                gc.enable()

    async def retrain(self, *, force: bool) -> dict[str, Any]:
        """Train in the trainer process (see `train`), then serve what it published."""
        async with self._training:
            self._last_attempt = time.monotonic()
            outcome = await self._trainer.run(self._job(force=force))
            await self._serve_published(outcome)
            return {**outcome, "model": self.describe()}

    async def _serve_published(self, outcome: dict[str, Any]) -> None:
        version = outcome.pop("version", None)
        if version is not None:
            await self._load(version)
        else:
            await self.refresh()

    def _job(self, *, force: bool) -> TrainingJob:
        return TrainingJob(self.db.url, str(self.store.root), self.params, force)

    async def run_forever(self) -> None:
        """Poll for snapshots other instances published; retrain when the interval passed."""
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.refresh()
                if time.monotonic() - self._last_attempt >= self.interval_s:
                    await self.retrain(force=False)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: keep serving the old model
                log.warning("scheduled retraining failed", error=str(exc) or type(exc).__name__)

    async def close(self) -> None:
        """Stop the trainer process; a training under way ends with it."""
        await asyncio.to_thread(self._trainer.stop)

    def describe(self) -> dict[str, Any] | None:
        return self.current.describe() if self.current else None
