"""Keeping a model in service: load the newest snapshot any instance published, retrain on a
schedule and on demand, and swap the new snapshot in only once it is complete."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cinemesh.platform.db import Database
from cinemesh.platform.observability import logger
from cinemesh.services.recommender.collaborative import ModelFileError, ModelParams
from cinemesh.services.recommender.service import TrainingData, training_data
from cinemesh.services.recommender.snapshot import ModelStore, Snapshot, build_snapshot

log = logger("recommender.training")


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
        self._last_attempt = 0.0

    async def start(self) -> None:
        """Serve the newest published snapshot; train one first if there is none."""
        await self.refresh()
        if self.current is None:
            await self.retrain(force=True)

    async def refresh(self) -> bool:
        """Load the newest published snapshot if it is not the one serving."""
        pointer = self.store.latest()
        if pointer is None or (self.current and self.current.version == pointer["version"]):
            return False
        try:
            loaded = await asyncio.to_thread(self.store.load, pointer["version"])
        except (ModelFileError, FileNotFoundError) as exc:  # pruned or being written: next poll
            log.warning("could not load a snapshot", version=pointer["version"], error=str(exc))
            return False
        if self.current is None or loaded.version > self.current.version:
            self.current = loaded
            log.info("serving a new snapshot", version=loaded.version)
            return True
        return False

    async def retrain(self, *, force: bool) -> dict[str, Any]:
        """Train from the database now (force) or only if the data changed since the newest
        snapshot. With force, wait for another instance's training to end first."""
        async with self._training:
            self._last_attempt = time.monotonic()
            async with self.db.session() as session:
                data = await training_data(session)
            latest = self.store.latest()
            if not force and latest and latest.get("fingerprint") == data.fingerprint:
                await self.refresh()
                return {"retrained": False, "reason": "no new data", "model": self.describe()}
            snapshot = await asyncio.to_thread(self._train_and_publish, data, force)
            if snapshot is None:
                return {
                    "retrained": False,
                    "reason": "another instance is training",
                    "model": self.describe(),
                }
            self.current = snapshot
            log.info("trained a new snapshot", **snapshot.describe())
            return {"retrained": True, "model": self.describe()}

    def _train_and_publish(self, data: TrainingData, wait: bool) -> Snapshot | None:
        with self.store.training_lock(wait=wait) as mine:
            if not mine:
                return None
            snapshot = build_snapshot(data, params=self.params)
            self.store.publish(snapshot)
            return snapshot

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

    def describe(self) -> dict[str, Any] | None:
        return self.current.describe() if self.current else None
