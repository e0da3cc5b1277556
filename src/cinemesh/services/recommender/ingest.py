"""The recommender's events, consumed in a process of their own.

Folding a batch of events (pydantic, the ORM, one transaction) took about 11 ms of the serving
process' CPU for 16 events, measured at 200 events/s. On the serving event loop that was 11 ms,
sometimes 30, in which no request was answered: the main reason rows missed 10 ms while events
arrived. Now the serving process answers requests and loads snapshots, and this child process,
started with it, dying with it and restarted by it, pulls and folds the events (events.py)
with its own database pool and NATS connection, at a lower CPU priority than serving. How many
events it consumed comes back over a pipe into the serving process' metrics; which profiles
they changed goes to every instance as a notice (platform/kept.py). Stopped with SIGTERM (the
service draining, or dying), the child fetches no more, finishes the batches in flight
(stored, announced, acknowledged) and exits; killed, it leaves them to be redelivered."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from cinemesh.contracts.notices import RECOMMENDER_HISTORIES_CHANGED
from cinemesh.platform.db import Database
from cinemesh.platform.events import EventBus
from cinemesh.platform.kept import announce
from cinemesh.platform.observability import configure_logging, configure_tracing, logger
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.recommender.events import (
    SERVICE,
    SUBSCRIPTIONS,
    BatchConsumer,
    count_here,
)

log = logger("recommender.ingest")

NICENESS = 5  # below serving, above the trainer (19): events must keep up, requests come first
PR_SET_PDEATHSIG = 1
WATCH_S = 0.5
RESTART_MAX_S = 30.0
CONSUMERS_GRACE_S = 15.0
SUBSCRIBED = "subscribed"  # the child's first message, once every durable consumer exists


@dataclass(frozen=True)
class IngestConfig:
    database_url: str
    nats_url: str
    namespace: str
    instance: str
    log_level: str


class IngestProcess:
    """The child that consumes events: started, watched (restarted with backoff if it dies,
    its counts moved into metrics) and stopped by the serving process."""

    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self.restarts = 0
        self.started_at = time.monotonic()
        self.subscribed = False  # once the child said so: the service is ready from then on
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        self.started_at = time.monotonic()
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=False)
        self._process = context.Process(
            target=main, args=(self.config, theirs), name="recommender-ingest", daemon=True
        )
        self._process.start()
        theirs.close()
        self._pipe = ours

    async def watch(self) -> None:
        """Move counts into metrics; bring the child back if it died."""
        pause = 1.0
        while True:
            await asyncio.sleep(WATCH_S)
            self._collect_counts()
            if self.alive:
                pause = 1.0
                continue
            code = self._process.exitcode if self._process is not None else None
            log.warning("event consumer process died, restarting", exitcode=code, in_s=pause)
            await asyncio.sleep(pause)
            pause = min(RESTART_MAX_S, pause * 2)
            self.restarts += 1
            self.start()

    def _collect_counts(self) -> None:
        pipe = self._pipe
        try:
            while pipe is not None and pipe.poll():
                message = pipe.recv()
                if message == SUBSCRIBED:
                    self.subscribed = True
                else:
                    count_here(Counter(message))
        except (EOFError, OSError):  # the child is gone; `watch` restarts it
            pass

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
            self._process = None
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None


def run_beside(runtime: ServiceRuntime) -> IngestProcess:
    """Start the consumer process once the database is migrated; stop it at shutdown."""
    ingest = IngestProcess(
        IngestConfig(
            database_url=runtime.database.url,
            nats_url=runtime.settings.nats_url,
            namespace=runtime.settings.bus_namespace,
            instance=f"{runtime.instance_id}-ingest",
            log_level=runtime.settings.log_level,
        )
    )
    tasks: list[asyncio.Task[None]] = []

    @runtime.on_startup
    async def start_ingest() -> None:
        ingest.start()
        tasks.append(asyncio.create_task(ingest.watch(), name="ingest-watch"))

    async def consuming() -> None:
        # Ready once events are consumed, so a caller that publishes and waits for the
        # consumers to drain does not find none yet; but not held back for more than
        # CONSUMERS_GRACE_S, since rows are served without the event bus too.
        waited = time.monotonic() - ingest.started_at
        if not ingest.subscribed and waited < CONSUMERS_GRACE_S:
            raise RuntimeError("the event consumers are starting")

    runtime.ready_check("events consumed", consuming)

    @runtime.on_shutdown
    async def stop_ingest() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(ingest.stop)

    return ingest


# --- the child -----------------------------------------------------------------------------
def main(config: IngestConfig, pipe: Connection) -> None:
    """Lower the priority, die with the service, then consume until terminated."""
    os.nice(NICENESS)
    with contextlib.suppress(OSError):  # not Linux: it ends when its parent closes the pipe
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    configure_logging(service=SERVICE, instance=config.instance, level=config.log_level)
    configure_tracing(service=SERVICE, instance=config.instance)
    asyncio.run(consume(config, pipe))


async def consume(config: IngestConfig, pipe: Connection) -> None:
    db = Database(config.database_url)
    bus = EventBus(config.nats_url, service=SERVICE, namespace=config.namespace)
    await bus.connect_patiently()

    def report(counts: Counter[tuple[str, str]]) -> None:
        pipe.send(dict(counts))

    async def changed(profiles: set[str]) -> None:
        await announce(bus, RECOMMENDER_HISTORIES_CHANGED, profiles)

    consumers = [
        BatchConsumer(bus, db, sub, report=report, changed=changed) for sub in SUBSCRIPTIONS
    ]

    def finish_and_stop() -> None:  # SIGTERM: from the serving process, or as it dies
        for consumer in consumers:
            consumer.stop()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, finish_and_stop)
    runs = [asyncio.create_task(consumer.run()) for consumer in consumers]
    subscribed = asyncio.ensure_future(asyncio.gather(*(c.subscribed.wait() for c in consumers)))
    try:
        done, _ = await asyncio.wait([subscribed, *runs], return_when=asyncio.FIRST_COMPLETED)
        if subscribed in done:
            pipe.send(SUBSCRIBED)
        await asyncio.gather(*runs)  # a consumer that fails ends the process: it is restarted;
        # one stopped returns once its batch in flight is stored and acknowledged
    finally:
        subscribed.cancel()
        await bus.close()
        await db.dispose()
