"""The model kept in service for the life of an instance (the keeper is training.py's
`ModelKeeper`): the newest snapshot, or a first one trained, before the first request; the
retrain schedule until shutdown, then the trainer process stopped; ready once a model is
served; every new model announced."""

from __future__ import annotations

import asyncio

from cinemesh.contracts.notices import RECOMMENDER_MODEL_CHANGED
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.recommender.training import ModelKeeper


def keep_in_service(runtime: ServiceRuntime, keeper: ModelKeeper) -> None:
    # Whoever keeps this instance's answers (the gateway) forgets them when it serves a new model.
    keeper.on_new_model = lambda version: runtime.changed(RECOMMENDER_MODEL_CHANGED, [version])
    schedule: list[asyncio.Task[None]] = []

    @runtime.on_startup
    async def load_model() -> None:
        await keeper.start()  # the chassis freezes the first model with the other start-up objects
        schedule.append(asyncio.create_task(keeper.run_forever(), name="retrain"))

    @runtime.on_shutdown
    async def stop_schedule() -> None:
        for task in schedule:
            task.cancel()
        await asyncio.gather(*schedule, return_exceptions=True)
        await keeper.close()

    async def model_loaded() -> None:
        if keeper.current is None:
            raise RuntimeError("no model yet")

    runtime.ready_check("model", model_loaded)
