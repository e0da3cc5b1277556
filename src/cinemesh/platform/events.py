"""The event bus on NATS JetStream: versioned event envelopes, durable and broadcast consumers,
and work queues. Events leave a service through its outbox (`outbox.py`).

Every stream is kept on `replicas` NATS nodes (`CINEMESH_NATS_REPLICAS`): 3 on a cluster of 3,
so a stream keeps taking and delivering events while any one node is down.

Notices are the other kind of message: plain NATS, at most once, never stored, for telling a
service's own instances that something they keep in memory changed. A receiver trusts what it
kept only while `notices_epoch` stays the same (see there)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import nats
import orjson
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError
from opentelemetry import context as otel_context
from opentelemetry import trace

from cinemesh.platform.observability import EVENTS_CONSUMED, extract_trace_context, logger

log = logger("cinemesh.events")
tracer = trace.get_tracer("cinemesh.events")

MAX_DELIVERIES = 20
# How long a fetched, unacknowledged event waits before another instance gets it: the time a
# crash delays what the dead instance had fetched. A batch handled slower than this is handed
# out again, which idempotent consumers absorb.
SHARED_ACK_WAIT_S = 10.0


@dataclass(frozen=True)
class Event:
    """One fact a service announces: `type` like `catalog.title.upserted`, versioned payload."""

    type: str
    data: dict[str, Any]
    source: str = ""
    version: int = 1
    key: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.__dict__)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Event:
        body = orjson.loads(raw)
        return cls(**{k: body[k] for k in cls.__dataclass_fields__ if k in body})


EventHandler = Callable[[Event], Awaitable[None]]
Delivery = Literal["shared", "broadcast"]


def _consumer_name(service: str, pattern: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{service}--{pattern}")


class EventBus:
    """A connection to JetStream under a namespace (so test runs never see each other)."""

    def __init__(
        self, url: str, *, service: str, namespace: str = "cinemesh", replicas: int = 1
    ) -> None:
        self.url = url
        self.service = service
        self.namespace = namespace
        self.replicas = replicas
        self.nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subs: list[Any] = []
        self._stopping = False

    @property
    def events_stream(self) -> str:
        return f"{self.namespace}_EVENTS"

    def subject(self, event_type: str) -> str:
        return f"{self.namespace}.evt.{event_type}"

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("event bus is not connected")
        return self._js

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def notice_subject(self, name: str) -> str:
        return f"{self.namespace}.notice.{name}"  # outside the events stream: never stored

    async def notify(self, name: str, body: bytes) -> None:
        """Send a notice to whoever listens now (while reconnecting, it is sent afterwards)."""
        if self.nc is None:
            raise RuntimeError("event bus is not connected")
        await self.nc.publish(self.notice_subject(name), body)

    async def on_notice(self, name: str, handler: Callable[[bytes], None]) -> None:
        """Call `handler` with the body of every notice `name` from now on."""
        if self.nc is None:
            raise RuntimeError("event bus is not connected")

        async def on_message(msg: Msg) -> None:
            handler(msg.data)

        await self.nc.subscribe(self.notice_subject(name), cb=on_message)

    @property
    def notices_epoch(self) -> tuple[int, int] | None:
        """None while disconnected; otherwise a value that changes with every reconnect, since
        the notices sent while away are lost: what they would have corrected must be forgotten."""
        if self.nc is None or not self.nc.is_connected:
            return None
        return id(self.nc), int(self.nc.stats["reconnects"])

    async def connect_patiently(self) -> None:
        """Connect, retrying (0.2 s, doubling up to 5 s) for as long as NATS is unreachable."""
        delay = 0.2
        while True:
            try:
                await self.connect()
                return
            except Exception as exc:
                log.warning(
                    "event bus unreachable, retrying",
                    url=self.url,
                    error=str(exc) or type(exc).__name__,
                )
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)

    async def connect(self, *, timeout_s: float = 10.0) -> None:
        self.nc = await nats.connect(
            [server.strip() for server in self.url.split(",") if server.strip()],
            name=self.service,
            connect_timeout=2,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            allow_reconnect=True,
        )
        self._js = self.nc.jetstream(timeout=timeout_s)
        await self._ensure_stream(
            StreamConfig(
                name=self.events_stream,
                subjects=[f"{self.namespace}.evt.>"],
                storage=StorageType.FILE,
                duplicate_window=300,
                num_replicas=self.replicas,
            )
        )

    async def _ensure_stream(self, config: StreamConfig) -> None:
        """Create the stream, or raise its replica count to ours. Never lower it: one client
        left at the default of 1 must not take the copies away from a cluster's streams."""
        try:
            info = await self.js.stream_info(config.name or "")
        except NotFoundError:
            try:
                await self.js.add_stream(config)
            except BadRequestError as exc:
                if "already" not in str(exc):
                    raise
            return
        if (info.config.num_replicas or 1) < self.replicas:
            await self.js.update_stream(replace(info.config, num_replicas=self.replicas))
            log.info("raised a stream's replicas", stream=config.name, replicas=self.replicas)

    async def publish_raw(
        self, *, event_type: str, event_id: str, body: bytes, headers: dict[str, str]
    ) -> None:
        """Publish once per event id: JetStream drops a repeat within its duplicate window."""
        await self.js.publish(
            self.subject(event_type), body, headers={**headers, "Nats-Msg-Id": event_id}
        )

    async def publish(self, evt: Event) -> None:
        """Publish directly, for events with no database write behind them."""
        await self.publish_raw(
            event_type=evt.type, event_id=evt.id, body=evt.to_bytes(), headers={}
        )

    async def consume(
        self, pattern: str, handler: EventHandler, *, delivery: Delivery = "shared"
    ) -> None:
        """Deliver events matching `pattern` (NATS wildcards) to `handler`.

        shared: one durable consumer for all instances of the service, each event handled by
        one of them, caught up after downtime. broadcast: every instance replays the whole
        stream into itself, for per-instance state such as a search index.
        """
        subject = self.subject(pattern)
        if delivery == "broadcast":
            sub = await self.js.subscribe(
                subject,
                cb=self._callback(handler),
                ordered_consumer=True,
                config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
            )
            self._subs.append(sub)
            return
        durable = _consumer_name(self.service, pattern)
        psub = await self.js.pull_subscribe(
            subject,
            durable=durable,
            stream=self.events_stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=SHARED_ACK_WAIT_S,
                max_deliver=MAX_DELIVERIES + 1,
                deliver_policy=DeliverPolicy.ALL,
            ),
        )
        self._tasks.append(asyncio.create_task(self._pull_loop(psub, handler), name=durable))

    async def broadcast_pending(self) -> int:
        """Events the broadcast consumers have not handled yet: still on the server or already
        received and queued for the handler (0 once caught up)."""
        pending = 0
        for sub in self._subs:
            info = await sub.consumer_info()
            pending += int(info.num_pending or 0) + sub.pending_msgs
        return pending

    def _callback(self, handler: EventHandler) -> Callable[[Msg], Awaitable[None]]:
        async def on_message(msg: Msg) -> None:
            await self._dispatch(msg, handler)

        return on_message

    async def stop_consuming(self, *, grace_s: float = 2.5) -> None:
        """Fetch no more; let each handler in flight finish, handing the rest of its batch
        back to the server for another instance (a draining instance)."""
        self._stopping = True
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace_s)

    async def _pull_loop(self, psub: Any, handler: EventHandler) -> None:
        while not self._stopping:
            try:
                msgs = await psub.fetch(batch=64, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event fetch failed, retrying", error=str(exc))
                await asyncio.sleep(1.0)
                continue
            for msg in msgs:
                if self._stopping:
                    await _settle(msg, ack=False)
                else:
                    await self._dispatch(msg, handler)

    async def _dispatch(self, msg: Msg, handler: EventHandler) -> None:
        try:
            evt = Event.from_bytes(msg.data)
        except Exception:
            log.error("dropping an event that is not an envelope", subject=msg.subject)
            await _settle(msg, ack=True)
            return
        token = otel_context.attach(extract_trace_context(dict(msg.headers or {})))
        try:
            with tracer.start_as_current_span(f"consume {evt.type}"):
                await handler(evt)
            EVENTS_CONSUMED.labels(self.service, evt.type, "ok").inc()
            await _settle(msg, ack=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            attempt = _delivery_count(msg)
            EVENTS_CONSUMED.labels(self.service, evt.type, "error").inc()
            if attempt >= MAX_DELIVERIES:
                log.error("giving up on an event", type=evt.type, id=evt.id, error=str(exc))
                await _settle(msg, ack=True)
            else:
                log.warning("event handler failed, will retry", type=evt.type, error=str(exc))
                await _settle(msg, ack=False, delay=min(30.0, 0.2 * 2**attempt))
        finally:
            otel_context.detach(token)

    async def work_queue(self, name: str) -> WorkQueue:
        queue = WorkQueue(self, name)
        await self._ensure_stream(
            StreamConfig(
                name=queue.stream,
                subjects=[queue.subject],
                retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE,
                duplicate_window=300,
                num_replicas=self.replicas,
            )
        )
        return queue

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.nc is not None:
            # close, not drain: every handled message is already acked, and drain can stall
            # on an ordered consumer's internal queue
            await self.nc.close()
            self.nc = None


class WorkQueue:
    """Jobs that exactly one worker takes at a time, redelivered when a worker dies."""

    def __init__(self, bus: EventBus, name: str) -> None:
        self.bus = bus
        self.name = name
        self.stream = f"{bus.namespace}_JOBS_{name}"
        self.subject = f"{bus.namespace}.jobs.{name}"

    async def enqueue(self, job_id: str, payload: dict[str, Any]) -> None:
        await self.bus.js.publish(
            self.subject, orjson.dumps(payload), headers={"Nats-Msg-Id": job_id}
        )

    async def subscribe(self, *, ack_wait_s: float = 30.0) -> Any:
        return await self.bus.js.pull_subscribe(
            self.subject,
            durable=f"{self.name}-workers",
            stream=self.stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait_s),
        )


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
