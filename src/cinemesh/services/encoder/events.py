"""What the encoder consumes: the `encode` work queue, one job at a time on each instance that
is a worker (`CINEMESH_ENCODER_WORKER`, on by default; worker.py). The encoder subscribes to
no events; the ones it publishes are staged with its job records (service.py)."""

from __future__ import annotations

from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.encoder.worker import EncodeWorker


def consume_events(runtime: ServiceRuntime, worker: EncodeWorker) -> None:
    @runtime.on_startup
    async def start_worker() -> None:
        worker.folders.prepare()  # the media folders, which uploads need as well as the worker
        if worker.settings.worker:
            worker.start()

    runtime.on_shutdown(worker.stop)
