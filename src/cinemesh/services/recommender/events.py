"""What the recommender consumes, and how: in batches.

Each subscription pulls up to BATCH events at a time from its durable JetStream consumer
(shared by every instance) and folds the whole batch in one transaction, which also records
every event id (skipping ids already recorded), so a redelivered event changes nothing. The
messages are acknowledged only after the commit: a crash before it redelivers the batch, a
crash after it redelivers events whose ids are already recorded. If a batch fails, its events
are retried one transaction each, so one event that cannot be stored holds back only itself
(retried with backoff, given up after MAX_DELIVERIES like every consumer). A malformed
payload is logged and skipped.

One transaction per event, as the chassis' `consume` does, cost about 5 statements and a
commit per event: 2,700 events took about 8 s and 22,700 took 83 s (SQLite) and 165 s
(PostgreSQL) on the shared 2-core machine. A batch costs a handful of statements and one
commit.

After each commit the profiles it changed go to `changed` (the consumer process sends them to
every instance as a notice, so that none keeps serving a history it remembered). Stopped, a
consumer fetches no more and returns once the batch in flight is committed and acknowledged."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.catalog import TitleDeleted, TitleUpserted
from cinemesh.contracts.history import TitleWatched
from cinemesh.contracts.playback import PlaybackProgress, PlaybackStopped
from cinemesh.contracts.profiles import MyListChanged, ProfileDeleted, ProfileUpserted, TitleRated
from cinemesh.platform.db import Database
from cinemesh.platform.events import MAX_DELIVERIES, SHARED_ACK_WAIT_S, Event, EventBus
from cinemesh.platform.observability import EVENTS_CONSUMED, extract_trace_context, logger
from cinemesh.services.recommender import service
from cinemesh.services.recommender.service import Fold

log = logger("recommender.events")
tracer = trace.get_tracer("recommender.events")

BATCH = 256
SERVICE = "recommender"


@dataclass(frozen=True)
class Subscription:
    pattern: str
    durable: str  # the JetStream consumer every instance pulls from
    consumer: str  # the name handled event ids are recorded under


# The names the chassis' per-event consumers used, so a running deployment resumes where it was.
SUBSCRIPTIONS = (
    Subscription("history.watched", "recommender--history_watched", "recommender.on_watched"),
    Subscription("playback.*", "recommender--playback__", "recommender.on_playback"),
    Subscription("profiles.>", "recommender--profiles__", "recommender.on_profiles"),
    Subscription("catalog.title.*", "recommender--catalog_title__", "recommender.on_catalog"),
)

PAYLOADS: dict[str, type[BaseModel]] = {
    TitleWatched.TYPE: TitleWatched,
    PlaybackProgress.TYPE: PlaybackProgress,
    PlaybackStopped.TYPE: PlaybackProgress,  # the same fields; the last position counts
    TitleRated.TYPE: TitleRated,
    MyListChanged.TYPE: MyListChanged,
    ProfileUpserted.TYPE: ProfileUpserted,
    ProfileDeleted.TYPE: ProfileDeleted,
    TitleUpserted.TYPE: TitleUpserted,
    TitleDeleted.TYPE: TitleDeleted,
}


Report = Callable[[Counter[tuple[str, str]]], None]
Changed = Callable[[set[str]], Awaitable[None]]


async def nobody_told(_profiles: set[str]) -> None:
    return None


def count_here(counts: Counter[tuple[str, str]]) -> None:
    for (kind, outcome), n in counts.items():
        EVENTS_CONSUMED.labels(SERVICE, kind, outcome).inc(n)


class BatchConsumer:
    """Pulls one subscription's events and folds them a batch per transaction; what it
    consumed, by event type and outcome, goes to `report` after each batch."""

    def __init__(
        self,
        bus: EventBus,
        db: Database,
        sub: Subscription,
        batch: int = BATCH,
        report: Report = count_here,
        changed: Changed = nobody_told,
    ) -> None:
        self.bus = bus
        self.db = db
        self.sub = sub
        self.batch = batch
        self.report = report
        self.changed = changed
        self.counts: Counter[tuple[str, str]] = Counter()
        self.subscribed = asyncio.Event()  # its durable consumer exists: nothing is missed now
        self.stopping = False

    def stop(self) -> None:
        """Fetch no more: `run` returns once the batch in flight is folded and acknowledged."""
        self.stopping = True

    async def run(self) -> None:
        pull = await self.bus.js.pull_subscribe(
            self.bus.subject(self.sub.pattern),
            durable=self.sub.durable,
            stream=self.bus.events_stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=SHARED_ACK_WAIT_S,  # the chassis' consumers' own settings
                max_deliver=MAX_DELIVERIES + 1,
                deliver_policy=DeliverPolicy.ALL,
            ),
        )
        self.subscribed.set()
        while not self.stopping:
            try:
                msgs = await pull.fetch(batch=self.batch, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event fetch failed, retrying", error=str(exc) or type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            await self.handle(msgs)
            if self.counts:
                self.report(self.counts)
                self.counts = Counter()

    async def handle(self, msgs: list[Msg]) -> None:
        received: list[tuple[Msg, Event]] = []
        for msg in msgs:
            try:
                received.append((msg, Event.from_bytes(msg.data)))
            except Exception:
                log.error("dropping an event that is not an envelope", subject=msg.subject)
                await _settle(msg, ack=True)
        if not received:
            return
        events = [evt for _, evt in received]
        links = [_link(msg) for msg, _ in received]
        with tracer.start_as_current_span(
            f"consume {self.sub.pattern}", links=[link for link in links if link]
        ) as span:
            span.set_attribute("messaging.batch.message_count", len(events))
            try:
                async with self.db.transaction() as session:
                    profiles = await fold_events(session, consumer=self.sub.consumer, events=events)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "a batch of events failed, retrying each alone",
                    consumer=self.sub.consumer,
                    events=len(events),
                    error=str(exc) or type(exc).__name__,
                )
                for msg, evt in received:
                    await self.handle_one(msg, evt)
                return
        await self._tell(profiles)
        for msg, evt in received:
            self.counts[(evt.type, "ok")] += 1
            await _settle(msg, ack=True)

    async def _tell(self, profiles: set[str]) -> None:
        if not profiles:
            return
        try:
            await self.changed(profiles)
        except Exception as exc:  # the events are stored all the same; caches age out
            log.warning("could not announce changed profiles", error=str(exc) or type(exc).__name__)

    async def handle_one(self, msg: Msg, evt: Event) -> None:
        try:
            async with self.db.transaction() as session:
                profiles = await fold_events(session, consumer=self.sub.consumer, events=[evt])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.counts[(evt.type, "error")] += 1
            attempt = _delivery_count(msg)
            if attempt >= MAX_DELIVERIES:
                log.error("giving up on an event", type=evt.type, id=evt.id, error=str(exc))
                await _settle(msg, ack=True)
            else:
                log.warning("event handler failed, will retry", type=evt.type, error=str(exc))
                await _settle(msg, ack=False, delay=min(30.0, 0.2 * 2**attempt))
            return
        await self._tell(profiles)
        self.counts[(evt.type, "ok")] += 1
        await _settle(msg, ack=True)


async def fold_events(session: AsyncSession, *, consumer: str, events: list[Event]) -> set[str]:
    """Record the events' ids for `consumer` and fold, in order, those not recorded before;
    return the profiles whose history that changed."""
    fresh = await service.mark_new(session, consumer=consumer, event_ids=[e.id for e in events])
    payloads: list[BaseModel] = []
    seen: set[str] = set()
    for evt in events:
        if evt.id not in fresh or evt.id in seen:
            continue
        seen.add(evt.id)
        kind = PAYLOADS.get(evt.type)
        if kind is None:
            continue  # a type the recommender does not use
        try:
            payloads.append(kind.model_validate(evt.data))
        except ValueError as exc:
            log.error("skipping a malformed event", type=evt.type, id=evt.id, error=str(exc))
    fold = Fold(session)
    await fold.load(
        keys={(p.profile_id, p.title_id) for p in payloads if _is_signal(p)},  # type: ignore[attr-defined]
        titles={p.title_id for p in payloads if isinstance(p, TitleUpserted | TitleDeleted)},
        profiles={p.profile_id for p in payloads if isinstance(p, ProfileUpserted)},
    )
    for payload in payloads:
        try:
            await apply(fold, payload)
        except ValueError as exc:  # an unreadable timestamp; nothing of it was applied
            log.error("skipping a malformed event", payload=type(payload).__name__, error=str(exc))
    return {p.profile_id for p in payloads if _about_a_profile(p)}  # type: ignore[attr-defined]


def _is_signal(payload: BaseModel) -> bool:
    return isinstance(payload, TitleWatched | PlaybackProgress | TitleRated | MyListChanged)


def _about_a_profile(payload: BaseModel) -> bool:
    return _is_signal(payload) or isinstance(payload, ProfileUpserted | ProfileDeleted)


async def apply(fold: Fold, payload: BaseModel) -> None:
    """Fold one event's payload into the batch's rows."""
    if isinstance(payload, TitleWatched):
        service.record_watched(fold, payload)
    elif isinstance(payload, PlaybackProgress):
        service.record_progress(fold, payload)
    elif isinstance(payload, TitleRated):
        service.record_rating(fold, payload)
    elif isinstance(payload, MyListChanged):
        service.record_my_list(fold, payload)
    elif isinstance(payload, ProfileUpserted):
        service.record_profile(fold, payload)
    elif isinstance(payload, ProfileDeleted):
        await service.forget_profile(fold, payload.profile_id)
    elif isinstance(payload, TitleUpserted):
        service.record_title(fold, payload)
    elif isinstance(payload, TitleDeleted):
        service.forget_title(fold, payload)


def _link(msg: Msg) -> trace.Link | None:
    context = trace.get_current_span(extract_trace_context(dict(msg.headers or {})))
    span_context = context.get_span_context()
    return trace.Link(span_context) if span_context.is_valid else None


def _delivery_count(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:
        return 1


async def _settle(msg: Msg, *, ack: bool, delay: float | None = None) -> None:
    try:
        if ack:
            await msg.ack()
        else:
            await msg.nak(delay=delay)
    except Exception as exc:  # the connection dropped: JetStream will redeliver
        log.debug("could not settle a message", error=str(exc))
